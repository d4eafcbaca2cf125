"""The PPO driver: generate -> reward -> advantages -> update -> sync, one step at a time.

    satori rl configs/rl_tiny.yaml [key=value ...]

Departures from the Satori paper, on purpose:
- Restart states also come from the policy's own recent rollouts (``rae.online``), not only
  from samples of the starting checkpoint.
- Any advantage estimator can be chosen (``algo.advantage``); the paper uses GAE with a critic.
- A restart prompt that is too long loses whole trailing steps (or is dropped and counted),
  never its problem statement or its final ``<|reflect|>``.
- An optional verified-steps reward term (``reward.step_scale``) scores the share of the
  response's arithmetic claims that hold, checked exactly by ``satori.claims``; and optional
  per-token claim credit (``reward.claim_credit``, ``train.rl.credit``) on the tokens writing them.
- The ORM term (``reward.orm``, ``reward.orm_scale``) normalises scores by the running mean and standard
  deviation of every score of the run (saved in checkpoints), this batch's included.
- A restart rollout is graded as the whole trajectory, prefix + response: confirming a correct
  prefix without restating its answer keeps it correct, and a wrong answer in the prefix stands
  until the response replaces it.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import ray
import torch

from satori.claims import claim_share, claim_token_marks, find_claims
from satori.config import format_config, save_config, to_dict
from satori.orm import RunningNorm
from satori.run_config import WallClock, due, finished
from satori.tokenization import ActionKeepingDecoder
from satori.tracking import MetricsTracker
from train.rl.batch import Sample, add_advantages, collate, round_size, select_groups, varied
from train.rl.config import RLConfig
from train.rl.credit import centred_credit
from train.rl.problem_sets import load_problem_set
from train.rl.rae import RestartBuffer, RolloutPrompt, encode_rollout_prompt, offline_problems, shorten_to_fit
from train.rl.resources import place
from train.rl.reward import Graded, orm_values, reward_terms
from train.rl.sample_log import RolloutSampleLog
from train.rl.satori_rl import load_rl_prompts
from train.rl.workers import RewardModelWorker, RewardWorker, RolloutWorker, learner_actor, rendezvous_address
from train.checkpoint import TRAINING_STATE_FILE, latest_checkpoint, prune_checkpoints, write_dir_atomically



class Timer:
    """Wall time per phase: ``with timer("generate"): ...`` then ``timer.metrics()``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start

    def metrics(self) -> dict[str, float]:
        return {f"perf/{phase}_s": s for phase, s in self.seconds.items()}


class ProblemStream:
    """An endless, reproducible stream over the training prompts (a new shuffle each epoch)."""

    def __init__(self, problems: list[RolloutPrompt], seed: int, position: int = 0):
        self.problems, self.seed, self.position = problems, seed, position

    def take(self, k: int) -> list[RolloutPrompt]:
        out = []
        for _ in range(k):
            epoch, index = divmod(self.position, len(self.problems))
            order = list(range(len(self.problems)))
            random.Random(self.seed * 7919 + epoch).shuffle(order)
            out.append(self.problems[order[index]])
            self.position += 1
        return out


class PPOTrainer:
    """Owns the Ray actors and the run folder; ``train()`` runs to ``config.max_steps``."""

    def __init__(self, config: RLConfig, run_config: Any = None):
        """``run_config`` (default ``config``) is what the run folder records as ``config.yaml``."""
        from transformers import AutoTokenizer

        self.clock = WallClock(config.max_seconds)   # counts from here: actors' start-up is in the budget
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = latest_checkpoint(self.run_dir) if config.resume else None
        state = torch.load(checkpoint / TRAINING_STATE_FILE, weights_only=False) if checkpoint else None
        self.step = state["step"] if state else 0
        policy_path = str(checkpoint / "actor") if checkpoint else config.model.policy
        critic_path = str(checkpoint / "critic") if checkpoint and config.uses_critic else None
        recorded = run_config or config
        print(format_config(recorded))
        save_config(recorded, self.run_dir / "config.yaml")
        self.tokenizer = AutoTokenizer.from_pretrained(policy_path)
        self.decoder = ActionKeepingDecoder(self.tokenizer)
        data = config.data
        if data.train_format == "satori-rl":   # official RL rows: restart rows carry their reflect_status
            self.train_problems = []
            self.train_prompts = load_rl_prompts(data.train, self.tokenizer, data.train_size)
        else:
            self.train_problems = load_problem_set(data.train, data.train_size, "train", config.seed, data.difficulty)
            self.train_prompts = [RolloutPrompt.plain(p) for p in self.train_problems]
        self.eval_problems = (load_problem_set(data.eval, data.eval_size, "test", config.seed + 1, data.difficulty)
                              if data.eval_size > 0 else [])
        self.stream = ProblemStream(self.train_prompts, config.seed, state["position"] if state else 0)
        rae = config.rae
        self.buffer = RestartBuffer(rae.buffer_size, rae.min_backtrack, rae.max_backtrack, config.seed)
        if state:
            self.buffer.load_state_dict(state["buffer"])
            random.setstate(state["python_rng"])
        else:
            random.seed(config.seed)
        self.tracker = MetricsTracker(self.run_dir, resume_step=self.step if checkpoint else None,
                                      config=config.tracking, run_config=to_dict(recorded))
        self.sample_log = RolloutSampleLog(self.run_dir, config.log_samples_per_step,
                                           resume_step=self.step if checkpoint else None)
        self.start_actors(policy_path, critic_path, checkpoint)
        self.counters = {"dropped_too_long": state["dropped_too_long"] if state else 0}
        self.varied_share: float | None = state.get("varied_share") if state else None   # dynamic sampling's last step
        self.orm_norm = RunningNorm()   # running statistics of the ORM scores (reward.orm)
        if state and "orm_norm" in state:
            self.orm_norm.load_state_dict(state["orm_norm"])
        self.clock.spent_before = state.get("spent_seconds", 0.0) if state else 0.0

    # ----------------------------------------------------------------------------- actors
    def start_actors(self, policy_path: str, critic_path: str | None, checkpoint: Path | None) -> None:
        """Learners, rollout workers and reward workers (subclasses add their own actors after these)."""
        config = self.config
        if not ray.is_initialized():
            ray.init(address=config.ray.address, num_cpus=config.ray.num_cpus, include_dashboard=False,
                     log_to_driver=True, configure_logging=False)
        world = config.ray.learners
        rollout = config.rollout
        self.placement = place(config.resources, learners=world, engines=rollout.num_workers)
        init_method = None
        if world > 1:  # rank 0's node hosts the process group's rendezvous
            strategy = self.placement.learner(0)["scheduling_strategy"]
            init_method = ray.get(rendezvous_address.options(scheduling_strategy=strategy).remote())
        Learner = learner_actor()
        self.learners = [Learner.options(**self.placement.learner(rank)).remote(
            config, policy_path, critic_path, rank, world, init_method) for rank in range(world)]
        if checkpoint is not None:
            ray.get([learner.load_state.remote(str(checkpoint)) for learner in self.learners])
        self.rollout_workers = [RolloutWorker.options(**self.placement.engine(index)).remote(
            rollout.engine, policy_path, config.rollout_threads, engine_options(config, index))
            for index in range(rollout.num_workers)]
        self.reward_workers = [RewardWorker.options(num_cpus=0).remote(
            config.reward.processes_per_worker, config.reward.verify_timeout) for _ in range(config.reward.workers)]
        reward = config.reward
        self.orm_workers = [RewardModelWorker.options(num_cpus=0).remote(reward.orm, reward.orm_batch_size, 1)
                            for _ in range(reward.orm_workers if reward.orm else 0)]
        self.weights_ref = None  # latest synced weights, re-sent to a restarted rollout worker
        self.weights_version = 0

    def shutdown(self) -> None:
        """Stop every actor of this run and release its placement groups (the Ray instance stays up)."""
        for actor in [*self.learners, *self.rollout_workers, *self.reward_workers, *self.orm_workers]:
            ray.kill(actor)
        self.placement.remove()

    # ----------------------------------------------------------------------------- phases
    def generate(self, prompts: list[list[int]], params: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """Split ``prompts`` over the rollout workers.

        A shard whose worker died is re-run once Ray has restarted the worker and it holds the
        latest weights again, so no sample is lost, duplicated, or drawn from stale weights.
        """
        workers = self.rollout_workers
        shards = [list(range(i, len(prompts), len(workers))) for i in range(len(workers))]
        results: list[list[dict[str, Any]]] = [[] for _ in prompts]
        submit = lambda w: workers[w].generate.remote(  # noqa: E731
            [prompts[i] for i in shards[w]], {**params, "seed": worker_seed(params.get("seed"), w)},
            self.weights_version)
        pending = {w: submit(w) for w, shard in enumerate(shards) if shard}
        while pending:
            for w, ref in list(pending.items()):
                try:
                    out = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                    stop_if_unstartable(exc, w, self.config.rollout.engine)
                    out = None
                if out is None:  # the worker died, or came back from a restart with its initial weights
                    self._resync(workers[w])
                    pending[w] = submit(w)
                    continue
                for i, group in zip(shards[w], out):
                    results[i] = group
                del pending[w]
        return results

    def _resync(self, worker: Any) -> None:
        """Give a (restarted) worker the latest weights, waiting while Ray brings it back."""
        self.counters["rollout_worker_restarts"] = self.counters.get("rollout_worker_restarts", 0) + 1
        for _ in range(60):
            try:
                if self.weights_ref is not None:
                    ray.get(worker.update_weights.remote(self.weights_ref, self.weights_version))
                return
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                stop_if_unstartable(exc, self.rollout_workers.index(worker), self.config.rollout.engine)
                time.sleep(1.0)
        raise RuntimeError("a rollout worker did not come back within 60 s of dying")

    def grade(self, pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """Verdicts for ``(response, gold)`` pairs, spread over the reward workers."""
        return scatter(self.reward_workers, pairs, lambda worker, shard: worker.grade.remote(shard))

    def orm_scores(self, pairs: list[tuple[str, str]]) -> list[float | None]:
        """``orm_values`` of ``(question, response)`` pairs, scored over the reward-model workers (all None
        without ``reward.orm``)."""
        if not self.orm_workers:
            return [None] * len(pairs)
        scores = scatter(self.orm_workers, pairs,
                         lambda worker, shard: worker.score.remote([q for q, _ in shard], [r for _, r in shard]))
        return orm_values(scores, self.orm_norm)

    def sync_weights(self) -> None:
        """Push the learner's weights (in the engines' dtype) to every rollout worker."""
        self.weights_version += 1
        self.weights_ref = self.learners[0].policy_state_dict.remote(self.config.rollout_dtype)
        refs = [w.update_weights.remote(self.weights_ref, self.weights_version) for w in self.rollout_workers]
        for worker, ref in zip(self.rollout_workers, refs):
            try:
                ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                self._resync(worker)

    def sleep_engines(self) -> None:
        """Colocated engines free their accelerator memory for the learners."""
        ray.get([worker.sleep.remote() for worker in self.rollout_workers])

    def wake_engines(self) -> None:
        ray.get([worker.wake.remote() for worker in self.rollout_workers])

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """The learners' PPO update on ``batch`` (rank 0's metrics, the same on every rank)."""
        return ray.get([learner.update.remote(batch) for learner in self.learners])[0]

    # ----------------------------------------------------------------------------- one step
    def make_prompts(self, want: int | None = None) -> list[RolloutPrompt]:
        """``want`` prompts (default ``rollout.prompts_per_step``): plain problems plus (with RAE) restart
        states, all fitting the length limit."""
        config = self.config
        want = want or config.rollout.prompts_per_step
        restarts = []
        if config.rae.enabled:
            restarts = self.buffer.sample(round(want * config.rae.restart_ratio), config.rae.balance)
        prompts = []
        for prompt in restarts + self.stream.take(want - len(restarts)):
            fitted = shorten_to_fit(prompt, lambda p: len(self.encode(p)), config.data.max_prompt_len)
            if fitted is None:
                self.counters["dropped_too_long"] += 1
            else:
                prompts.append(fitted)
        return prompts

    def encode(self, prompt: RolloutPrompt) -> list[int]:
        return encode_rollout_prompt(prompt, self.tokenizer, self.config.data.template)

    def rollout_step(self, timer: Timer) -> tuple[list[Sample], dict[str, float]]:
        """Generate and reward this step's samples; feed plain trajectories to the restart buffer.

        With ``rollout.filter_groups`` (DAPO's dynamic sampling) each round draws ``round_size`` prompts:
        the groups still missing, scaled up by the share of varied groups in the last step, so one round
        usually suffices; another round follows while fewer than ``prompts_per_step`` groups have varied
        rewards, at most ``max_refill_rounds`` times. The step trains on ``select_groups``: the first
        ``prompts_per_step`` varied groups, topped up with equal-reward ones when the cap leaves too few,
        so the batch keeps its size (which ``algo.mini_batches`` divides). Sample metrics and the claim
        credit's centring cover every generated sample.
        """
        rollout, reward = self.config.rollout, self.config.reward
        want = rollout.prompts_per_step
        stats: dict[str, list[float]] = {}
        first = round_size(want, self.varied_share) if rollout.filter_groups else want
        prompts, groups, marks = self.rollout_round(timer, 0, stats, first)
        refills = 0
        while (rollout.filter_groups and refills < rollout.max_refill_rounds
               and (missing := want - sum(map(varied, groups))) > 0):
            refills += 1
            more_prompts, more_groups, more_marks = self.rollout_round(
                timer, refills, stats, round_size(missing, self.varied_share))
            prompts, groups, marks = prompts + more_prompts, groups + more_groups, marks + more_marks
        metrics = _means(stats, sum(map(len, groups)))
        if reward.claim_credit:
            credit, credit_metrics = centred_credit(marks, reward.claim_credit)
            for sample, row in zip([s for group in groups for s in group], credit):
                sample.credit = row
            metrics.update(credit_metrics)
        if rollout.filter_groups:
            self.varied_share = sum(map(varied, groups)) / max(len(groups), 1)
            metrics["rollout/filtered_share"] = 1 - self.varied_share
            metrics["rollout/refill_generations"] = refills
            metrics["rollout/generated_groups"] = len(groups)
            groups = select_groups(groups, rollout.prompts_per_step)
            metrics["rollout/padded_groups"] = sum(not varied(group) for group in groups)
        samples = [replace(s, group=index) for index, group in enumerate(groups) for s in group]
        metrics["rae/restart_share"] = sum(p.is_restart for p in prompts) / max(len(prompts), 1)
        metrics["rae/buffer_size"] = len(self.buffer)
        metrics["rollout/dropped_too_long"] = self.counters["dropped_too_long"]
        return samples, metrics

    def rollout_round(self, timer: Timer, round_index: int, stats: dict[str, list[float]], size: int
                      ) -> tuple[list[RolloutPrompt], list[list[Sample]], list[list[int]]]:
        """One round of ``size`` prompts, generated and rewarded: the prompts, their groups of samples, and
        (with ``reward.claim_credit``) each sample's claim-token marks; per-sample metrics go to ``stats``."""
        config = self.config
        rollout, reward = config.rollout, config.reward
        prompts = self.make_prompts(size)
        with timer("generate"):
            params = {"max_new_tokens": rollout.max_new_tokens, "temperature": rollout.temperature,
                      "top_p": rollout.top_p, "n": rollout.samples_per_prompt,
                      "seed": config.seed * 100_003 + self.step + round_index * 1_000_003}
            completions = self.generate([self.encode(p) for p in prompts], params)
        flat = [(p, c) for p, group in zip(prompts, completions) for c in group]
        with timer("reward"):
            verdicts = self.grade([(p.prefix + c["text"], p.gold) for p, c in flat])
            orm = self.orm_scores([(p.question, p.prefix + c["text"]) for p, c in flat])
        claims = [find_claims(c["text"]) if reward.step_scale or reward.claim_credit else [] for _, c in flat]
        groups: list[list[Sample]] = [[] for _ in prompts]
        for index, ((prompt, completion), verdict) in enumerate(zip(flat, verdicts)):
            correct = verdict["status"] == "correct"
            terms = reward_terms(Graded(correct, prompt.reflect_status, len(completion["token_ids"]),
                                        rollout.max_new_tokens, claim_share(claims[index]), orm[index]), reward)
            group = index // rollout.samples_per_prompt
            groups[group].append(Sample(completion["prompt_ids"], completion["token_ids"], completion["logprobs"],
                                        terms["reward/total"], group=group, reflect_status=prompt.reflect_status))
            _add(stats, terms)
            self.sample_log.add(prompt, completion, verdict, terms)
            _add(stats, {f"rollout/status_{verdict['status']}": 1.0, "rollout/accuracy": float(correct),
                         "rollout/response_length": len(completion["token_ids"]),
                         "rollout/truncated": float(completion["finish_reason"] == "length")})
            if prompt.reflect_status == -1:
                _add(stats, {"rae/repaired": float(correct)}, key_count="rae/from_incorrect")
            elif prompt.reflect_status == 1:
                _add(stats, {"rae/kept_correct": float(correct)}, key_count="rae/from_correct")
            elif config.rae.enabled and config.rae.online:
                self.buffer.add(prompt, completion["text"], correct)
        if not reward.claim_credit:
            return prompts, groups, []
        return prompts, groups, [claim_token_marks(found, self.decoder.token_ends(c["token_ids"]))
                                 for found, (_, c) in zip(claims, flat)]

    def train_step(self) -> dict[str, float]:
        """Generate and reward, score, update, sync. Colocated (``resources.colocate``), the engines sleep
        from after generation until the update is done, and wake before the sync (vLLM's sleep level 1
        keeps the weights in host memory, so the sync overwrites woken weights)."""
        timer = Timer()
        colocate = self.config.resources.colocate
        samples, metrics = self.rollout_step(timer)
        if colocate:
            with timer("sleep"):
                self.sleep_engines()
        batch = collate(samples, self.tokenizer.pad_token_id)
        with timer("score"):
            if self.config.needs_scoring:
                parts = ray.get([learner.score.remote(batch) for learner in self.learners])
                for key in parts[0]:
                    if key != "rows":
                        merged = torch.empty_like(torch.cat([p[key] for p in parts]))
                        for part in parts:
                            merged[part["rows"]] = part[key]
                        batch[key] = merged
            metrics.update(add_advantages(batch, self.config.algo))
        with timer("update"):
            metrics.update(self.update(batch))
        if colocate:
            with timer("wake"):
                self.wake_engines()
        with timer("sync"):
            self.sync_weights()
        tokens = int(batch["action_mask"].sum())
        metrics.update(timer.metrics())
        metrics["perf/generate_tokens_per_s"] = tokens / max(timer.seconds["generate"], 1e-9)
        metrics["perf/update_tokens_per_s"] = tokens / max(timer.seconds["update"], 1e-9)
        metrics["perf/step_s"] = sum(timer.seconds.values())
        return metrics

    # ----------------------------------------------------------------------------- eval / save
    def evaluate(self) -> dict[str, float]:
        """Greedy accuracy on the held-out problems, graded like the rewards."""
        prompts = [RolloutPrompt.plain(p) for p in self.eval_problems]
        params = {"max_new_tokens": self.config.rollout.max_new_tokens, "temperature": 0.0, "n": 1, "logprobs": False}
        completions = [g[0] for g in self.generate([self.encode(p) for p in prompts], params)]
        verdicts = self.grade([(c["text"], p.gold) for p, c in zip(prompts, completions)])
        correct = [v["status"] == "correct" for v in verdicts]
        reflects = ["<|reflect|>" in c["text"] for c in completions]
        return {"eval/accuracy": sum(correct) / len(correct),
                "eval/reflect_share": sum(reflects) / len(reflects),
                "eval/response_length": sum(len(c["token_ids"]) for c in completions) / len(completions)}

    def save(self) -> Path:
        """Checkpoint the learners and the driver state atomically as ``checkpoint-{step:06d}``."""
        def write(tmp: Path) -> None:
            ray.get(self.learners[0].save.remote(str(tmp), self.tokenizer))
            torch.save({
                "step": self.step, "position": self.stream.position, "buffer": self.buffer.state_dict(),
                "python_rng": random.getstate(), "dropped_too_long": self.counters["dropped_too_long"],
                "varied_share": self.varied_share, "orm_norm": self.orm_norm.state_dict(),
                "spent_seconds": self.clock.spent()},
                       tmp / TRAINING_STATE_FILE)
        path = write_dir_atomically(self.run_dir / f"checkpoint-{self.step:06d}", write)
        prune_checkpoints(self.run_dir, self.config.keep_checkpoints)
        return path

    def train(self) -> dict[str, float]:
        """Run to ``max_steps`` or until ``max_seconds`` would be passed; returns the last evaluation's
        metrics (none with ``data.eval_size: 0``)."""
        config = self.config
        from tqdm import tqdm

        last_eval: dict[str, float] = {}
        if self.step == 0:
            if config.rae.enabled and config.rae.offline_samples > 0:
                self.seed_restart_buffer()
            if self.eval_problems:
                last_eval = self.evaluate()
                self.tracker.log(0, last_eval)
        bar = tqdm(total=config.max_steps, initial=self.step, desc="ppo", unit="step")
        done = finished(self.step, config.max_steps, self.clock)
        while not done:
            with self.clock.step():
                metrics = self.train_step()
            self.step += 1
            done = finished(self.step, config.max_steps, self.clock)
            metrics["perf/elapsed_s"] = self.clock.spent()
            if self.eval_problems and due(self.step, config.eval_every, done):
                last_eval = self.evaluate()
                metrics.update(last_eval)
            self.tracker.log(self.step, metrics)
            self.sample_log.write(self.step, due(self.step, config.log_samples_every, done))
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward/total']:.2f}", acc=f"{metrics['rollout/accuracy']:.2f}")
            if due(self.step, config.checkpoint_every, done):
                self.save()
        bar.close()
        self.export_final()
        self.tracker.close()
        return last_eval

    def seed_restart_buffer(self) -> None:
        """The paper's restart source: samples of the starting checkpoint on training problems."""
        rae = self.config.rae
        plain = [p for p in self.train_prompts if not p.is_restart]
        prompts = offline_problems(plain, rae.offline_problems, self.config.seed)
        params = {"max_new_tokens": self.config.rollout.max_new_tokens, "temperature": self.config.rollout.temperature,
                  "n": rae.offline_samples, "seed": self.config.seed, "logprobs": False}
        groups = self.generate([self.encode(p) for p in prompts], params)
        flat = [(p, c) for p, g in zip(prompts, groups) for c in g]
        verdicts = self.grade([(c["text"], p.gold) for p, c in flat])
        for (prompt, completion), verdict in zip(flat, verdicts):
            self.buffer.add(prompt, completion["text"], verdict["status"] == "correct")

    def export_final(self) -> Path:
        """The final policy as a plain Hugging Face folder ``RUN/final`` (loads in transformers and vLLM)."""
        final = self.run_dir / "final"
        write_dir_atomically(final, lambda tmp: ray.get(self.learners[0].export_policy.remote(str(tmp), self.tokenizer)))
        return final


def scatter(workers: list[Any], items: list[Any], submit: Any) -> list[Any]:
    """Every item's result, in order: ``items`` dealt round-robin over ``workers``, ``submit(worker, shard)``
    returning the object ref of a shard's results."""
    n = len(workers)
    shards = [items[i::n] for i in range(n)]
    outs = ray.get([submit(worker, shard) for worker, shard in zip(workers, shards) if shard])
    results: list[Any] = [None] * len(items)
    for i, out in enumerate(outs):
        results[i::n] = out
    return results


def stop_if_unstartable(error: Exception, index: int, engine: str) -> None:
    """Raise when rollout worker ``index`` died in its constructor: Ray does not restart an actor whose
    creation failed (e.g. vLLM finding no memory for its KV cache), so retrying would loop forever."""
    if getattr(error, "actor_init_failed", False):
        raise RuntimeError(f"rollout worker {index} could not build its {engine} engine, so the run stops; "
                           f"check the rollout settings (rollout.gpu_memory_utilization, rollout.dtype, the "
                           f"policy folder). The worker's error: {error}") from error


def engine_options(config: RLConfig, index: int) -> dict[str, Any]:
    """The arguments of rollout worker ``index``'s engine: the rollout dtype (``rollout.dtype``, or the
    learner's compute dtype), and with vLLM a seed of its own, the sleep mode when colocated, the memory share
    and the sequence length."""
    rollout = config.rollout
    if rollout.engine == "hf":
        return {"dtype": config.rollout_dtype, "max_batch_size": rollout.max_batch_size}
    return {"dtype": config.rollout_dtype, "seed": worker_seed(config.seed, index),
            "enable_sleep_mode": config.resources.colocate,
            "gpu_memory_utilization": rollout.gpu_memory_utilization,
            "max_model_len": config.data.max_prompt_len + rollout.max_new_tokens}


def worker_seed(seed: int | None, worker: int) -> int | None:
    """The seed rollout worker ``worker`` samples with, derived from the step's ``seed``: workers given the
    same prompts draw different samples, and a re-run shard draws the same ones (None: unseeded)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, worker]).generate_state(1)[0])


def _add(stats: dict[str, list[float]], values: dict[str, float], key_count: str | None = None) -> None:
    for key, value in values.items():
        stats.setdefault(key, []).append(value)
    if key_count:
        stats.setdefault(key_count, []).append(1.0)


def _means(stats: dict[str, list[float]], total: int) -> dict[str, float]:
    """Per-key means; ``rollout/status_*`` and the RAE counts become shares of all samples."""
    out = {}
    for key, values in stats.items():
        shared = key.startswith("rollout/status_") or key in ("rae/from_incorrect", "rae/from_correct")
        out[key] = sum(values) / (total if shared else len(values))
    return out


def run(config: RLConfig) -> dict[str, float]:
    """Train with PPO and return the final evaluation metrics."""
    trainer = PPOTrainer(config)
    try:
        return trainer.train()
    finally:
        trainer.shutdown()

