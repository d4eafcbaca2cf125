"""SIGKILL a real `satori sft` run between checkpoints, resume it: weights equal an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from satori.tracking import read_metrics
from train.checkpoint import latest_checkpoint

from kill_resume import env, kill_after_step, logged_steps
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


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    demos = write_demos(tmp_path / "demos.jsonl", 48)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(command(straight, demos), env=env(), check=True, capture_output=True, timeout=300)

    process = subprocess.Popen(command(killed, demos), env=env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    kill_after_step(process, killed, 6, timeout=240)  # past checkpoint 4, before 8
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
