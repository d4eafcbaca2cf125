"""The PPO loop on a real local Ray instance: a run through the CLI, resume after SIGKILL,
and a rollout worker killed in the middle of a step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from satori.config import load_config
from satori.engines.base import SamplingParams
from train.rl.config import RLConfig

pytestmark = pytest.mark.slow  # PPO on a local Ray instance, CLI subprocesses

SMALL = ["rollout.prompts_per_step=6", "rollout.samples_per_prompt=2", "rollout.max_new_tokens=12",
         "data.train=procedural:arith", "data.eval=procedural:arith", "data.train_size=30", "data.eval_size=6",
         "rae.offline_problems=6", "algo.mini_batches=2", "algo.actor_lr=1e-4", "algo.critic_lr=1e-4",
         "threads=1", "ray.num_cpus=2"]


def cli(run_dir: Path, policy: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "satori.cli", "rl", str(run_dir / "rl.yaml"), f"run_dir={run_dir}",
            f"model.policy={policy}", *SMALL, *extra]


def metric_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def metric_steps(run_dir: Path) -> list[int]:
    return [row["step"] for row in metric_rows(run_dir)]


def test_cli_run_survives_sigkill_and_resumes(tmp_path, tiny_policy_dir):
    (tmp_path / "rl.yaml").write_text("rl:\n  max_steps: 3\n  checkpoint_every: 1\n  eval_every: 3\n")
    command = cli(tmp_path, tiny_policy_dir, "reward.step_scale=0.5", "reward.claim_credit=1.0")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while not (tmp_path / "checkpoint-000001").is_dir():
        assert first.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline, "no checkpoint within 240 s"
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "final").exists()

    second = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "final evaluation: eval/accuracy=" in second.stdout
    steps = metric_steps(tmp_path)
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 3
    step_terms = [row["reward/steps"] for row in metric_rows(tmp_path) if "reward/steps" in row]
    assert len(step_terms) == 3 and all(-0.5 <= term <= 0.0 for term in step_terms)
    shares = [row["credit/claim_token_share"] for row in metric_rows(tmp_path) if "credit/claim_token_share" in row]
    assert len(shares) == 3 and all(0.0 <= share <= 1.0 for share in shares)
    assert {p.name for p in tmp_path.glob("checkpoint-*")} == {"checkpoint-000002", "checkpoint-000003"}
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(tmp_path / "final").num_parameters() > 0
    assert (tmp_path / "config.yaml").is_file()


def test_rollout_worker_killed_between_and_during_steps_is_restarted_with_current_weights(tmp_path, tiny_policy_dir):
    import ray

    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false", "max_steps=3"])
    trainer = PPOTrainer(config)
    worker = trainer.rollout_workers[0]

    def worker_pid() -> int:
        return ray.get(worker.pid.remote())

    try:
        trainer.train_step()
        assert trainer.weights_version == 1
        # Killed between steps: Ray restarts it with its initial weights; it must be re-synced first.
        first_pid = worker_pid()
        os.kill(first_pid, signal.SIGKILL)
        metrics = trainer.train_step()
        assert trainer.counters["rollout_worker_restarts"] >= 1
        assert ray.get(worker.pid.remote()) != first_pid
        assert metrics["rollout/logprob_mismatch"] < 1e-3  # sampled from the current weights
        assert trainer.weights_version == 2

        # Killed in the middle of generating: the shard is re-run, every prompt gets its n samples.
        restarts = trainer.counters["rollout_worker_restarts"]
        prompts = [[5, 6, 7]] * 16
        params = {"max_new_tokens": 300, "temperature": 1.0, "n": 4, "seed": 1}
        killer = threading.Timer(0.5, os.kill, (worker_pid(), signal.SIGKILL))  # pid asked before it is busy
        start = time.time()
        killer.start()
        groups = trainer.generate(prompts, params)
        killer.join()
        assert time.time() - start > 0.5, "generation ended before the kill: make it longer"
        assert trainer.counters["rollout_worker_restarts"] > restarts
        assert [len(g) for g in groups] == [4] * 16
        assert all(c["prompt_ids"] == [5, 6, 7] for g in groups for c in g)
    finally:
        ray.shutdown()


def test_two_learners_on_ray_train_through_the_driver(tmp_path, tiny_policy_dir):
    (tmp_path / "rl.yaml").write_text("rl:\n  max_steps: 2\n  checkpoint_every: 2\n  eval_every: 2\n")
    done = subprocess.run(cli(tmp_path, tiny_policy_dir, "ray.learners=2"), capture_output=True, text=True,
                          timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    updates = [row for row in metric_rows(tmp_path) if "loss/actor_grad_norm" in row]
    assert [row["step"] for row in updates] == [1, 2]
    assert all(row["loss/actor_grad_norm"] > 0 for row in updates)
    assert (tmp_path / "final" / "config.json").is_file()


def test_rollout_engines_take_the_learner_dtype_unless_set(tiny_policy_dir):
    """bf16-mixed learners get bf16 rollout engines (as vLLM's would be, the driver passing the dtype);
    ``rollout.dtype`` overrides it. vLLM engines also get a seed each and sleep mode when colocated."""
    import torch

    from train.rl.driver import engine_options
    from train.rl.workers import build_engine

    def options(*overrides: str, index: int = 0) -> dict:
        config = load_config(RLConfig, None, [f"model.policy={tiny_policy_dir}", *overrides])
        return engine_options(config, index)

    bf16 = options("model.precision=bf16-mixed")
    assert bf16["dtype"] == "bfloat16"
    engine = build_engine("hf", str(tiny_policy_dir), bf16)
    assert {p.dtype for p in engine.model.parameters()} == {torch.bfloat16}
    assert len(engine.generate([[5, 6, 7]], SamplingParams(max_new_tokens=4, temperature=0))[0][0].token_ids) >= 1
    fp32 = options("model.precision=bf16-mixed", "rollout.dtype=float32")
    assert {p.dtype for p in build_engine("hf", str(tiny_policy_dir), fp32).model.parameters()} == {torch.float32}
    vllm = [options("rollout.engine=vllm", "resources.colocate=true", "model.precision=bf16-mixed", index=i)
            for i in range(2)]
    assert vllm[0]["dtype"] == "bfloat16" and vllm[0]["enable_sleep_mode"]
    assert vllm[0]["seed"] != vllm[1]["seed"]


def test_rollout_workers_split_the_threads_and_draw_different_samples_from_one_seed(tmp_path, tiny_policy_dir):
    import ray

    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false", "rollout.num_workers=2", "threads=2"])
    trainer = PPOTrainer(config)
    try:
        assert ray.get([worker.torch_threads.remote() for worker in trainer.rollout_workers]) == [1, 1]
        params = {"max_new_tokens": 12, "temperature": 1.0, "n": 2, "seed": 1}
        first = trainer.generate([[5, 6, 7]] * 2, params)  # prompt 0 on worker 0, prompt 1 on worker 1
        samples = [[c["token_ids"] for c in group] for group in first]
        assert samples[0] != samples[1]
        assert [[c["token_ids"] for c in group] for group in trainer.generate([[5, 6, 7]] * 2, params)] == samples
    finally:
        trainer.shutdown()
        ray.shutdown()


def test_colocated_engines_sleep_through_the_update_and_wake_before_the_sync(tmp_path, tiny_policy_dir):
    """With resources.colocate the driver runs generate -> sleep -> update -> wake -> sync (the transformers
    engine's sleep frees nothing, but the worker refuses to generate or load weights while asleep), and the
    next step samples from the synced weights."""
    import ray

    from train.rl.driver import PPOTrainer

    class Recording(PPOTrainer):
        def __init__(self, *args, **kwargs):
            self.calls: list[str] = []
            super().__init__(*args, **kwargs)

        def generate(self, prompts, params):
            self.calls.append("generate")
            return super().generate(prompts, params)

        def sleep_engines(self):
            self.calls.append("sleep")
            super().sleep_engines()

        def wake_engines(self):
            self.calls.append("wake")
            super().wake_engines()

        def update(self, batch):
            self.calls.append("update")
            return super().update(batch)

        def sync_weights(self):
            self.calls.append("sync")
            super().sync_weights()

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false", "resources.colocate=true"])
    trainer = Recording(config)
    try:
        trainer.train_step()
        assert trainer.calls == ["generate", "sleep", "update", "wake", "sync"]
        metrics = trainer.train_step()
        assert metrics["rollout/logprob_mismatch"] < 1e-3 and "perf/sleep_s" in metrics
        trainer.sleep_engines()
        with pytest.raises(RuntimeError, match="generate while the engine is asleep"):
            trainer.generate([[5, 6, 7]], {"max_new_tokens": 4, "temperature": 1.0, "n": 1})
        with pytest.raises(RuntimeError, match="update_weights while the engine is asleep"):
            trainer.sync_weights()
    finally:
        trainer.shutdown()
        ray.shutdown()


def test_a_rollout_worker_that_cannot_build_its_engine_stops_the_run(tmp_path, tiny_policy_dir):
    """Ray never restarts an actor whose constructor raised (vLLM finding no memory for its KV cache, say):
    the driver stops with the worker's error instead of resubmitting to a dead actor forever."""
    import ray

    from train.rl.driver import PPOTrainer

    @ray.remote
    class EngineThatCannotStart:
        def __init__(self):
            raise ValueError("no memory left for the KV cache")

        def generate(self, prompts, params, version):
            return None

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false"])
    trainer = PPOTrainer(config)
    outcome: dict = {}

    def generate() -> None:
        try:
            trainer.generate([[5, 6, 7]], {"max_new_tokens": 4, "temperature": 1.0, "n": 1})
        except RuntimeError as exc:
            outcome["error"] = str(exc)

    try:
        trainer.rollout_workers[0] = EngineThatCannotStart.remote()
        caller = threading.Thread(target=generate, daemon=True)
        caller.start()
        caller.join(timeout=60)
        assert not caller.is_alive(), "the driver kept resubmitting to a worker that can never start"
        assert "rollout worker 0 could not build its hf engine" in outcome["error"]
        assert "no memory left for the KV cache" in outcome["error"]
    finally:
        trainer.shutdown()
        ray.shutdown()


def test_every_zero_evaluates_and_checkpoints_only_at_the_ends(tmp_path, tiny_policy_dir):
    """``eval_every=0`` and ``checkpoint_every=0`` mean "only at the end" (the evaluation before the first
    step stays); they used to divide by zero after the first step."""
    import ray

    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false", "max_steps=3", "eval_every=0", "checkpoint_every=0"])
    try:
        PPOTrainer(config).train()
    finally:
        ray.shutdown()
    assert [row["step"] for row in metric_rows(tmp_path) if "eval/accuracy" in row] == [0, 3]
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-000003"]


def test_eval_size_zero_runs_no_in_run_evaluation(tmp_path, tiny_policy_dir):
    """``data.eval_size: 0`` spends no time on in-run evaluation (a benchmark evaluates afterwards)."""
    import ray

    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rae.enabled=false", "max_steps=2", "eval_every=1", "data.eval_size=0"])
    trainer = PPOTrainer(config)
    try:
        assert trainer.train() == {}
    finally:
        trainer.shutdown()
        ray.shutdown()
    rows = metric_rows(tmp_path)
    assert [row["step"] for row in rows] == [1, 2] and not any("eval/accuracy" in row for row in rows)
    assert (tmp_path / "final" / "config.json").is_file()


def test_a_wall_clock_budget_counts_the_earlier_processes_of_a_resumed_run(tmp_path, tiny_policy_dir):
    """``max_seconds`` spans the run, not one process: the seconds spent before a checkpoint are saved with it,
    so a resumed run whose budget is already spent stops at once (here without ``max_steps`` at all)."""
    import ray
    import torch

    from train.rl.driver import TRAINING_STATE_FILE, PPOTrainer

    base = [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL, "rae.enabled=false",
            "data.eval_size=0", "eval_every=0", "checkpoint_every=0"]
    try:
        PPOTrainer(load_config(RLConfig, None, [*base, "max_steps=2", "max_seconds=100000"])).train()
        spent = torch.load(tmp_path / "checkpoint-000002" / TRAINING_STATE_FILE, weights_only=False)["spent_seconds"]
        elapsed = [row["perf/elapsed_s"] for row in metric_rows(tmp_path)]
        assert len(elapsed) == 2 and 0 < elapsed[0] < elapsed[1] <= spent
        resumed = PPOTrainer(load_config(RLConfig, None, [*base, "max_steps=null", f"max_seconds={spent}"]))
        resumed.train()
    finally:
        ray.shutdown()
    assert resumed.step == 2 and metric_steps(tmp_path) == [1, 2]
    assert (tmp_path / "final" / "config.json").is_file()
