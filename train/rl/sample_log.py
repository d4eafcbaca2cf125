"""PPO rollout samples kept for reading: ``RUN/rollout_samples.jsonl``, a few per logged step.

Every ``log_samples_every`` steps (and after the last), up to ``log_samples_per_step`` of the
step's samples are appended, spread evenly over the step's order (restart prompts come first,
then plain ones), so both kinds show up; nothing random is drawn. One row per sample::

    {"step": 12, "problem_id": "...", "question": "...", "gold": "7", "prompt_kind": "restart",
     "reflect_status": -1, "prefix": "<|continue|>...<|reflect|>", "completion": "...",
     "extracted": "7", "status": "correct", "correct": true, "reward": {"reward/total": 0.5, ...},
     "tokens": 41, "finish_reason": "stop"}

``satori view RUN`` shows them. Resume-safe like ``metrics.jsonl``: rows after the step a run
resumes from are dropped; a fresh run starts a fresh file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from satori.tracking import truncate_metrics

SAMPLES_FILE = "rollout_samples.jsonl"


def spread(count: int, keep: int) -> list[int]:
    """``keep`` indices out of ``range(count)``, evenly spaced and including the first."""
    if keep >= count:
        return list(range(count))
    return [i * count // keep for i in range(keep)]


class RolloutSampleLog:
    """Collect a step's samples with :meth:`add`, then :meth:`write` the chosen ones under that step."""

    def __init__(self, run_dir: str | os.PathLike, per_step: int, resume_step: int | None = None):
        self.path = Path(run_dir) / SAMPLES_FILE
        self.per_step = per_step
        self.pending: list[dict[str, Any]] = []
        truncate_metrics(self.path, resume_step)

    def add(self, prompt: Any, completion: dict[str, Any], verdict: dict[str, Any], terms: dict[str, float]) -> None:
        """One rewarded sample: its ``RolloutPrompt``, the engine's completion, the verdict and reward terms."""
        if self.per_step:
            self.pending.append({
                "problem_id": prompt.problem_id, "question": prompt.question, "gold": prompt.gold,
                "prompt_kind": "restart" if prompt.is_restart else "plain", "reflect_status": prompt.reflect_status,
                "prefix": prompt.prefix, "completion": completion["text"], "extracted": verdict.get("extracted"),
                "status": verdict.get("status"), "correct": verdict.get("status") == "correct",
                "reward": {k: float(v) for k, v in terms.items()}, "tokens": len(completion["token_ids"]),
                "finish_reason": completion.get("finish_reason")})

    def write(self, step: int, due: bool) -> None:
        """Append the step's chosen samples when ``due``; either way start collecting the next step."""
        rows, self.pending = self.pending, []
        if not due or not rows:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            for index in spread(len(rows), self.per_step):
                handle.write(json.dumps({"step": step, **rows[index]}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
