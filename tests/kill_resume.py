"""Helpers of the kill-and-resume tests: a CLI subprocess's environment, the steps it logged, a SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from satori.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}


def logged_steps(run_dir: Path) -> list[int]:
    """Steps with a ``loss/train`` row in ``run_dir/metrics.jsonl`` (none before it exists)."""
    path = run_dir / "metrics.jsonl"
    return [r["step"] for r in read_metrics(path) if "loss/train" in r] if path.exists() else []


def kill_after_step(process: subprocess.Popen, run_dir: Path, step: int, timeout: float) -> None:
    """SIGKILL ``process`` as soon as it has logged ``step``; fails if it ends first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not (logged_steps(run_dir) and max(logged_steps(run_dir)) >= step):
        assert process.poll() is None and time.monotonic() < deadline, "run ended before it could be killed"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
