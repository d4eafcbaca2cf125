"""The run-level keys: spelled once here, inherited by every stage's config.

Every stage config inherits the top-level keys it has from one of two dataclasses:

* :class:`RunConfig` -- ``run_dir`` (the run folder) and ``seed`` (the run's one seed):
  ``satori synth``, ``satori eval`` and the pipeline (``satori run``);
* :class:`TrainingRunConfig` -- those plus the step and time budgets and the loop's intervals
  (``max_steps``, ``max_seconds``, ``eval_every``, ``checkpoint_every``, ``keep_checkpoints``, ``resume``,
  ``threads``): ``satori pretrain``, ``sft``, ``rl`` and ``teach``.

A stage may give a key another default (``run_dir: str = "runs/rl"``) but never another name,
type or meaning, and no sub-section holds a copy of one (``tests/test_run_keys.py`` checks every
shipped config). The checks here run for every stage: :func:`satori.config.validate_tree` calls
the ``validate()`` of each class a config inherits from, bases first.

The old spellings (``total_steps``, ``train.max_steps``, ``checkpoint.every``, ``output_dir``,
``out``, ...) are listed in ``RENAMED_KEYS`` and refused by the loader with the new key named.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, fields
from typing import ClassVar, Iterator

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
    ``max_seconds``: a wall-clock budget for the stage, counted from its start and across resumed
    processes (null: none); the loop stops at the step boundary before the step that, at the mean step
    time, would end past it, then evaluates, checkpoints and exports as after its last step (learning-rate
    schedules still run to ``max_steps``);
    ``eval_every`` / ``checkpoint_every``: evaluate / checkpoint every N steps and after the last (0: only
    after the last); ``keep_checkpoints``: how many checkpoints stay on disk (0: all); ``resume``:
    continue from the newest checkpoint in ``run_dir`` (false: start at step 0; sft and pretrain then
    refuse a folder that already holds checkpoints, rl and teach start over in it); ``threads``: torch
    threads per process (null: torch's default).
    """

    max_steps: int | None = None
    max_seconds: float | None = None
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
        require(self.max_seconds is None or self.max_seconds > 0, "max_seconds",
                "must be > 0 seconds (or null: no wall-clock budget)")
        require(self.eval_every >= 0, "eval_every", "must be >= 0 (0: only after the last step)")
        require(self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0: only after the last step)")
        require(self.keep_checkpoints >= 0, "keep_checkpoints", "must be >= 0 (0 keeps every checkpoint)")
        require(self.threads is None or self.threads >= 1, "threads", "must be >= 1 (or null for torch's default)")


SHARED_KEYS = tuple(f.name for f in fields(TrainingRunConfig))
"""Every run-level key; only the top level of a stage config may hold a field of one of these names."""


class WallClock:
    """A stage's wall-clock budget (``max_seconds``): what earlier processes of the run spent (saved in
    its checkpoints as ``spent_before``) plus this process's time since the clock was made."""

    def __init__(self, max_seconds: float | None, spent_before: float = 0.0):
        self.max_seconds = max_seconds
        self.spent_before = spent_before
        self.started = time.monotonic()
        self.step_seconds: list[float] = []

    def spent(self) -> float:
        """Seconds of the run so far, earlier processes included."""
        return self.spent_before + time.monotonic() - self.started

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Time one step of the loop (its mean predicts the next one's length)."""
        start = time.monotonic()
        yield
        self.step_seconds.append(time.monotonic() - start)

    def out_of_time(self) -> bool:
        """Whether the next step, lasting this process's mean step so far, would end past the budget;
        never without a budget. Before any step is timed: whether the budget is already spent."""
        if self.max_seconds is None:
            return False
        mean = sum(self.step_seconds) / len(self.step_seconds) if self.step_seconds else 0.0
        return self.spent() + mean > self.max_seconds


def finished(step: int, max_steps: int | None, clock: WallClock) -> bool:
    """Whether a training loop is done: ``max_steps`` steps taken, or its next step would end past the
    clock's budget. A budget spent before the run's first step is refused (ConfigError naming ``max_seconds``)."""
    if max_steps is not None and step >= max_steps:
        return True
    if not clock.out_of_time():
        return False
    require(step > 0, "max_seconds", f"the budget of {clock.max_seconds:g} s was spent before the first step "
            f"({clock.spent():.1f} s of start-up); raise it")
    return True


def due(step: int, every: int, last: bool) -> bool:
    """Whether a periodic action (every ``every`` steps and after the loop's ``last`` step; 0: only then)
    falls on ``step``."""
    return last or (every > 0 and step % every == 0)


def set_threads(threads: int | None) -> None:
    """Apply a ``threads`` key to this process (null keeps torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
