"""The run-level keys: spelled once here, inherited by every stage's config.

Every stage config inherits the top-level keys it has from one of two dataclasses:

* :class:`RunConfig` -- ``run_dir`` (the run folder) and ``seed`` (the run's one seed):
  ``satori synth``, ``satori eval`` and the pipeline (``satori run``);
* :class:`TrainingRunConfig` -- those plus the step budget and the loop's intervals
  (``max_steps``, ``eval_every``, ``checkpoint_every``, ``keep_checkpoints``, ``resume``,
  ``threads``): ``satori pretrain``, ``sft``, ``rl`` and ``teach``.

A stage may give a key another default (``run_dir: str = "runs/rl"``) but never another name,
type or meaning, and no sub-section holds a copy of one (``tests/test_run_keys.py`` checks every
shipped config). The checks here run for every stage: :func:`satori.config.validate_tree` calls
the ``validate()`` of each class a config inherits from, bases first.

The old spellings (``total_steps``, ``train.max_steps``, ``checkpoint.every``, ``output_dir``,
``out``, ...) are listed in ``RENAMED_KEYS`` and refused by the loader with the new key named.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from satori.config import require


@dataclass
class RunConfig:
    """``run_dir``: the folder a run writes (and resumes from); ``seed``: the one seed of the run
    (data order, sampling, model initialisation: a stage derives whatever seeds it needs from it)."""

    run_dir: str = "runs/run"
    seed: int = 0
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"output_dir": "run_dir", "out": "run_dir"}

    def validate(self) -> None:
        require(bool(self.run_dir.strip()), "run_dir", "set a run folder, e.g. run_dir=runs/NAME")


@dataclass
class TrainingRunConfig(RunConfig):
    """A training loop's budget and intervals, in optimizer steps.

    ``max_steps``: steps to run (null: the stage's own end, e.g. SFT's ``train.epochs``);
    ``eval_every`` / ``checkpoint_every``: evaluate / checkpoint every N steps and after the last (0: only
    after the last); ``keep_checkpoints``: how many checkpoints stay on disk (0: all); ``resume``:
    continue from the newest checkpoint in ``run_dir`` (false: start at step 0; sft and pretrain then
    refuse a folder that already holds checkpoints, rl and teach start over in it); ``threads``: torch
    threads per process (null: torch's default).
    """

    max_steps: int | None = None
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    resume: bool = True
    threads: int | None = None
    RENAMED_KEYS: ClassVar[dict[str, str]] = {
        "total_steps": "max_steps", "train.max_steps": "max_steps", "train.seed": "seed", "train.threads": "threads",
        "eval.every": "eval_every", "checkpoint.every": "checkpoint_every", "checkpoint.keep_last": "keep_checkpoints",
        "checkpoint": "use the top-level checkpoint_every and keep_checkpoints (the checkpoint section is gone)"}

    def validate(self) -> None:
        require(self.max_steps is None or self.max_steps >= 1, "max_steps", "must be >= 1 (or null where allowed)")
        require(self.eval_every >= 0, "eval_every", "must be >= 0 (0: only after the last step)")
        require(self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0: only after the last step)")
        require(self.keep_checkpoints >= 0, "keep_checkpoints", "must be >= 0 (0 keeps every checkpoint)")
        require(self.threads is None or self.threads >= 1, "threads", "must be >= 1 (or null for torch's default)")


SHARED_KEYS = tuple(f.name for f in fields(TrainingRunConfig))
"""Every run-level key; only the top level of a stage config may hold a field of one of these names."""


def due(step: int, every: int, last: int) -> bool:
    """Whether a periodic action (every ``every`` steps and after the ``last``; 0: only then) falls on ``step``."""
    return step == last or (every > 0 and step % every == 0)


def set_threads(threads: int | None) -> None:
    """Apply a ``threads`` key to this process (null keeps torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
