"""SIGKILL a real `satori sft` run between checkpoints, resume it: weights equal an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from satori.tracking import read_metrics
from train.checkpoint import latest_checkpoint

from sft_demos import write_demos

pytestmark = pytest.mark.slow  # CLI subprocesses training SFT

ROOT = Path(__file__).resolve().parents[2]


def command(run_dir: Path, demos: Path) -> list[str]:
    return [sys.executable, "-m", "satori.cli", "sft", str(ROOT / "configs" / "sft_tiny.yaml"),
            f"run_dir={run_dir}", f"data.path={demos}", "data.val_size=4", "data.max_length=160",
            "model.tiny.vocab_size=400", "model.tiny.hidden_size=64", "model.tiny.num_heads=1",
            "train.batch_size=4", "max_steps=12", "threads=1", "optim.warmup_steps=3",
            "checkpoint_every=4", "keep_checkpoints=3", "eval_every=0", "eval.num_generations=0",
            "tracking.tensorboard=false", "--no-progress"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}


def logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    return [r["step"] for r in read_metrics(path) if "loss/train" in r] if path.exists() else []


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    demos = write_demos(tmp_path / "demos.jsonl", 48)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(command(straight, demos), env=env(), check=True, capture_output=True, timeout=300)

    process = subprocess.Popen(command(killed, demos), env=env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (logged_steps(killed) and max(logged_steps(killed)) >= 6):  # past checkpoint 4, before 8
        assert process.poll() is None and time.monotonic() < deadline, "run ended before it could be killed"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert latest_checkpoint(killed).name == "checkpoint-000004"
    assert max(logged_steps(killed)) > 4  # work after the checkpoint is lost and redone
    assert not (killed / "model").exists()

    result = subprocess.run(command(killed, demos), env=env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "resuming from" in result.stdout

    expected, actual = load_file(straight / "model" / "model.safetensors"), load_file(killed / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    assert logged_steps(killed) == list(range(1, 13))  # no duplicated or missing rows
    straight_loss = [r["loss/train"] for r in read_metrics(straight / "metrics.jsonl") if "loss/train" in r]
    killed_loss = [r["loss/train"] for r in read_metrics(killed / "metrics.jsonl") if "loss/train" in r]
    assert killed_loss == straight_loss
    assert json.loads((killed / "summary.json").read_text())["step"] == 12
