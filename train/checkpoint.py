"""Checkpoints shared by every training stage: a Hugging Face model folder plus the training state.

Layout of ``RUN/checkpoint-000120/``::

    config.json, model.safetensors, generation_config.json, tokenizer files   # loads in transformers / vLLM
    satori.json                                                               # source, added tokens, template
    training_state.pt                                                         # optimizer, scheduler, RNG, data position

A checkpoint is written into a hidden temporary folder, every file fsynced, then renamed into
place, so a crash leaves either the previous checkpoints or the complete new one; only the last
``keep_checkpoints`` are kept. ``latest_checkpoint(run_dir)`` finds the newest complete one and
``load_training_state`` restores optimizer, scheduler and RNG states exactly.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satori.models import write_satori_meta

CHECKPOINT_PREFIX = "checkpoint-"
TRAINING_STATE_FILE = "training_state.pt"
_CHECKPOINT_RE = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")
_TMP_PREFIX = ".tmp-"


@dataclass
class TrainingState:
    """What :func:`load_training_state` returns besides restoring objects in place."""

    step: int
    data_state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def checkpoint_dir(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / f"{CHECKPOINT_PREFIX}{step:06d}"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir()
             if (m := _CHECKPOINT_RE.match(p.name)) and (p / TRAINING_STATE_FILE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint folder in ``run_dir``, or None."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def checkpoint_to_resume(run_dir: str | os.PathLike, resume: bool) -> Path | None:
    """The newest complete checkpoint of ``run_dir`` to continue from; with ``resume`` off, a folder that holds
    one is refused (ConfigError naming the ``resume`` key) rather than overwritten."""
    from satori.config import ConfigError

    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None and not resume:
        raise ConfigError(f"key 'resume': {run_dir} already holds {checkpoint.name}; set resume=true "
                          "to continue it, or choose a new run_dir")
    return checkpoint


def export_model(folder: str | os.PathLike, model: Any, tokenizer: Any, meta: dict[str, Any] | None = None) -> Path:
    """Write a loadable Hugging Face folder (model, tokenizer, ``satori.json``) atomically."""
    folder = Path(folder)
    return write_dir_atomically(folder, lambda tmp: _write_model(tmp, model, tokenizer, meta))


def save_checkpoint(run_dir: str | os.PathLike, step: int, model: Any, tokenizer: Any, *,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                    data_state: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                    meta: dict[str, Any] | None = None, keep_checkpoints: int = 2) -> Path:
    """Save ``RUN/checkpoint-{step:06d}`` (model folder + training state) atomically.

    ``data_state`` says where the data stream stands (e.g. ``{"position": 480}``), ``extra`` is
    any stage-specific picklable state (e.g. a PPO running reward mean). Older checkpoints beyond
    ``keep_checkpoints`` are deleted after the new one is in place.
    """
    target = checkpoint_dir(run_dir, step)

    def write(tmp: Path) -> None:
        _write_model(tmp, model, tokenizer, meta)
        state = {
            "step": step,
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": capture_rng_state(),
            "data_state": data_state or {},
            "extra": extra or {},
        }
        torch.save(state, tmp / TRAINING_STATE_FILE)

    write_dir_atomically(target, write)
    prune_checkpoints(run_dir, keep_checkpoints)
    return target


def load_training_state(checkpoint: str | os.PathLike, optimizer: torch.optim.Optimizer | None = None,
                        scheduler: Any = None, restore_rng: bool = True) -> TrainingState:
    """Restore optimizer, scheduler (in place) and RNG states from ``checkpoint``.

    The model weights are loaded separately (``from_pretrained(checkpoint)``); load them and build
    the optimizer over the loaded parameters before calling this.
    """
    state = torch.load(Path(checkpoint) / TRAINING_STATE_FILE, map_location="cpu", weights_only=False)
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        restore_rng_state(state["rng"])
    return TrainingState(step=state["step"], data_state=state["data_state"], extra=state["extra"])


def capture_rng_state() -> dict[str, Any]:
    """RNG states of python, numpy and torch (CPU, and CUDA when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_model(folder: Path, model: Any, tokenizer: Any, meta: dict[str, Any] | None) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if meta is not None:
        write_satori_meta(folder, meta)


def prune_checkpoints(run_dir: str | os.PathLike, keep_checkpoints: int) -> None:
    """Delete all but the newest ``keep_checkpoints`` complete checkpoints of ``run_dir`` (none when it is 0)."""
    for old in list_checkpoints(run_dir)[:-keep_checkpoints] if keep_checkpoints > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def write_dir_atomically(target: Path, write: Any) -> Path:
    """Run ``write(tmp_dir)``, fsync it, then swap it in for ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f"{_TMP_PREFIX}*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.parent / f"{_TMP_PREFIX}{target.name}-{os.getpid()}"
    tmp.mkdir()
    try:
        write(tmp)
        _fsync_tree(tmp)
        if target.exists():  # re-saving the same step (e.g. after a resume): move the old one aside
            old = target.parent / f"{_TMP_PREFIX}old-{target.name}-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
