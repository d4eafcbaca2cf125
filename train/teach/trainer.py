"""GRPO for teachers on the PPO engine: the teacher explains a given solution, a frozen student scores it.

    satori teach configs/teach_tiny.yaml [key=value ...]

:class:`TeacherTrainer` is a :class:`~train.rl.driver.PPOTrainer` (same learners, rollout and
reward workers, weight sync, checkpoints and resume) whose prompts are teacher prompts and
whose reward comes from student scoring actors (:mod:`train.teach.scorer`) through
:func:`train.teach.rewards.teacher_reward`. The reward workers grade each explanation's own
boxed answer (a diagnostic, and the filter of the distillation set).

Departures from the published recipe, on purpose:
- Sampling and both models' reward log-probabilities share one temperature (``rollout.temperature``);
  the teacher's log-probabilities are the rollout engine's.
- ``eval/reward`` is the mean reward of ``eval_samples`` sampled explanations per held-out
  problem, with a fixed seed (the quantity GRPO raises), not of greedy explanations.
- Without a closing tag the whole response is scored as the explanation, plus the format penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch

from satori import coat
from satori.config import ConfigError
from satori.problems import Problem
from satori.tracking import plot_metrics
from train.rl.batch import Sample
from train.rl.driver import PPOTrainer, Timer
from train.rl.rae import RolloutPrompt
from train.teach.config import TINY, TeachConfig
from train.teach.formats import StudentView, explanation_length, student_view, teacher_prompt
from train.teach.rewards import teacher_reward
from train.teach.scorer import scorer_actor

PLOT_KEYS = ["eval/reward+reward/total", "eval/r_ss+reward/r_ss", "eval/r_kl+reward/r_kl",
             "eval/format_ok+eval/accuracy+eval/valid_coat"]
PLOT_FILE = "reward.png"


@dataclass
class Explanation:
    """One teacher response, cut at its closing tag, with its reward terms and the grade of its own answer."""

    problem: Problem
    completion: dict[str, Any]
    length: int          # explanation tokens: completion["token_ids"][:length]
    text: str
    closed: bool
    reward: float = 0.0
    r_ss: float = 0.0
    r_kl: float = 0.0
    status: str = ""

    @property
    def correct(self) -> bool:
        return self.status == "correct"


def resolve_models(config: TeachConfig) -> tuple[str, str]:
    """Teacher and student folders: the configured ones, or tiny ones built and warmed up in-process."""
    if config.model.teacher == TINY:
        from train.teach.bootstrap import bootstrap_tiny

        return tuple(str(path) for path in bootstrap_tiny(config))
    return config.model.teacher, config.model.student


class TeacherTrainer(PPOTrainer):
    """PPO engine + student scorers; ``train()`` runs GRPO to ``max_steps`` and plots ``reward.png``."""

    def __init__(self, config: TeachConfig):
        self.teach = config
        teacher, self.student_path = resolve_models(config)
        super().__init__(config.rl_config(teacher), run_config=config)
        self.problems = {p.id: p for p in self.train_problems + self.eval_problems}
        missing = [p.id for p in self.problems.values() if not (p.solution or "").strip()]
        if missing:
            self.shutdown()
            raise ConfigError(f"key 'data.train': problem {missing[0]} has no reference solution; a teacher "
                              "explains given solutions (map the solution column, or use procedural families)")

    def start_actors(self, policy_path: str, critic_path: str | None, checkpoint: Path | None) -> None:
        super().start_actors(policy_path, critic_path, checkpoint)
        config = self.teach
        Scorer = scorer_actor(num_gpus=1.0 if torch.cuda.is_available() else 0.0)
        self.scorers = [Scorer.options(num_cpus=0).remote(self.student_path, config.rollout.temperature,
                                                          config.threads, config.scorer.micro_batch_size,
                                                          config.model.precision)
                        for _ in range(config.scorer.num_workers)]

    def shutdown(self) -> None:
        """Stop the student scorers, then the PPO engine's actors (the Ray instance stays up)."""
        for actor in self.scorers:
            ray.kill(actor)
        super().shutdown()

    # ----------------------------------------------------------------------------- prompts
    def encode(self, prompt: RolloutPrompt) -> list[int]:
        problem = self.problems[prompt.problem_id]
        text = teacher_prompt(self.teach.format, problem.question, problem.solution)
        return self.tokenizer.encode(text, add_special_tokens=False)

    # ----------------------------------------------------------------------------- explanations
    def explain(self, problems: list[Problem], params: dict[str, Any]) -> list[list[Explanation]]:
        """Teacher responses (``params["n"]`` per problem), cut at the closing tag and graded."""
        groups = self.generate([self.encode(RolloutPrompt.plain(p)) for p in problems], params)
        close = self.teach.format.explanation_close
        out = []
        for problem, group in zip(problems, groups):
            row = []
            for completion in group:
                length, closed = explanation_length(completion["token_ids"], self.tokenizer, close)
                text = self.tokenizer.decode(completion["token_ids"][:length], skip_special_tokens=False)
                row.append(Explanation(problem, completion, length, text, closed))
            out.append(row)
        flat = [e for row in out for e in row]
        for explanation, verdict in zip(flat, self.grade([(e.text, e.problem.gold) for e in flat])):
            explanation.status = verdict["status"]
        return out

    def score(self, explanations: list[Explanation]) -> None:
        """Fill in each explanation's reward terms from the student scorers (teacher log-probs: the rollout's)."""
        fmt, reward = self.teach.format, self.teach.reward
        views = [student_view(fmt, self.tokenizer, e.problem.question, e.completion["token_ids"][:e.length],
                              e.problem.solution) for e in explanations]
        student = self._student_logprobs(views)
        teacher = torch.zeros_like(student)
        solution_mask = torch.zeros_like(student, dtype=torch.bool)
        explanation_mask = torch.zeros_like(solution_mask)
        for row, (view, e) in enumerate(zip(views, explanations)):
            (e_start, e_end), (s_start, s_end) = view.explanation, view.solution
            explanation_mask[row, e_start - 1: e_end - 1] = True    # label position t scores token t + 1
            solution_mask[row, s_start - 1: s_end - 1] = True
            teacher[row, e_start - 1: e_end - 1] = torch.tensor(e.completion["logprobs"][: e.length])
        terms = teacher_reward(student, teacher, solution_mask, explanation_mask,
                               torch.tensor([e.closed for e in explanations]), alpha=reward.alpha,
                               kl_weight=reward.kl_weight, format_penalty=reward.format_penalty)
        for row, e in enumerate(explanations):
            e.reward, e.r_ss, e.r_kl = terms.total[row].item(), terms.r_ss[row].item(), terms.r_kl[row].item()

    def _student_logprobs(self, views: list[StudentView]) -> torch.Tensor:
        """``(B, L-1)`` student log-probs of every next token of the right-padded views."""
        width = max(len(v.input_ids) for v in views)
        ids = torch.full((len(views), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros_like(ids)
        for row, view in enumerate(views):
            ids[row, : len(view.input_ids)] = torch.tensor(view.input_ids)
            attention[row, : len(view.input_ids)] = 1
        n = len(self.scorers)
        parts = ray.get([s.logprobs.remote(ids[i::n], attention[i::n]) for i, s in enumerate(self.scorers)])
        out = torch.zeros(len(views), width - 1)
        for i, part in enumerate(parts):
            out[i::n] = part
        return out

    def summarize(self, explanations: list[Explanation], prefix: str) -> dict[str, float]:
        """Means of the reward terms and explanation diagnostics under ``prefix`` (``reward`` or ``eval``).

        ``accuracy`` is the share of explanations whose own boxed answer the grader verifies;
        ``valid_coat`` (COAT variant) the share that parse as COAT with a boxed answer.
        """
        n = max(len(explanations), 1)
        mean = lambda values: sum(values) / n  # noqa: E731
        stats = {f"{prefix}/{'total' if prefix == 'reward' else 'reward'}": mean(e.reward for e in explanations),
                 f"{prefix}/r_ss": mean(e.r_ss for e in explanations),
                 f"{prefix}/r_kl": mean(e.r_kl for e in explanations),
                 f"{prefix}/format_ok": mean(e.closed for e in explanations)}
        where = "rollout" if prefix == "reward" else prefix
        stats.update({f"{where}/accuracy": mean(e.correct for e in explanations),
                      f"{where}/explanation_length": mean(e.length for e in explanations),
                      f"{where}/response_length": mean(len(e.completion["token_ids"]) for e in explanations),
                      f"{where}/truncated": mean(e.completion["finish_reason"] == "length" for e in explanations)})
        if self.teach.format.variant == "coat":
            stats[f"{where}/valid_coat"] = mean(coat.is_valid(e.text, require_answer=True) for e in explanations)
        return stats

    # ----------------------------------------------------------------------------- PPO phases
    def rollout_step(self, timer: Timer) -> tuple[list[Sample], dict[str, float]]:
        """This step's teacher explanations as PPO samples, each rewarded by the student."""
        rollout = self.config.rollout
        prompts = self.make_prompts()
        with timer("generate"):
            params = {"max_new_tokens": rollout.max_new_tokens, "temperature": rollout.temperature,
                      "top_p": rollout.top_p, "n": rollout.samples_per_prompt,
                      "seed": self.config.seed * 100_003 + self.step}
            groups = self.explain([self.problems[p.problem_id] for p in prompts], params)
        flat = [e for group in groups for e in group]
        with timer("reward"):
            self.score(flat)
        samples = [Sample(e.completion["prompt_ids"], e.completion["token_ids"], e.completion["logprobs"], e.reward,
                          group=index // rollout.samples_per_prompt) for index, e in enumerate(flat)]
        metrics = self.summarize(flat, "reward")
        metrics["rollout/dropped_too_long"] = self.counters["dropped_too_long"]
        return samples, metrics

    def evaluate(self) -> dict[str, float]:
        """Mean reward of sampled explanations on the held-out problems (fixed seed)."""
        rollout = self.config.rollout
        params = {"max_new_tokens": rollout.max_new_tokens, "temperature": rollout.temperature,
                  "top_p": rollout.top_p, "n": self.teach.eval_samples, "seed": self.config.seed}
        flat = [e for group in self.explain(self.eval_problems, params) for e in group]
        self.score(flat)
        return self.summarize(flat, "eval")

    def train(self) -> dict[str, float]:
        last = super().train()
        keys = self.teach.tracking.plot_keys or PLOT_KEYS
        plot_metrics(self.run_dir / "metrics.jsonl", keys, self.run_dir / PLOT_FILE, title="teacher GRPO")
        return last


def run(config: TeachConfig) -> dict[str, Any]:
    """Train the teacher, then (``distill.enabled``) write its distillation set; returns final metrics."""
    from train.teach.distill import distill

    trainer = TeacherTrainer(config)
    try:
        metrics: dict[str, Any] = trainer.train()
        if config.distill.enabled:
            metrics.update({f"distill/{k}": v for k, v in distill(trainer).items()})
    finally:
        trainer.shutdown()
    return metrics
