"""The checks of bench/gpu_check.py and the COAT shares of bench/real_model.py, on made-up run folders."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gpu_check():
    return load("gpu_check")


def write_losses(run_dir: Path, losses: list[float]) -> None:
    (run_dir / "sft").mkdir(parents=True, exist_ok=True)
    rows = [{"step": i + 1, "loss/train": loss} for i, loss in enumerate(losses)] + [{"step": 8, "eval/loss": 0.1}]
    (run_dir / "sft" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_sft_loss_check_passes_only_when_the_loss_falls(gpu_check, tmp_path):
    write_losses(tmp_path / "a", [3.0, 2.8, 2.5, 2.2, 2.0, 1.9, 1.7, 1.6])
    ok, detail = gpu_check.sft_loss_falls(tmp_path / "a")
    assert ok and "2.900 -> last 2 steps 1.650" in detail
    write_losses(tmp_path / "b", [2.0, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6])
    assert not gpu_check.sft_loss_falls(tmp_path / "b")[0]


def test_weight_check_fails_when_rl_left_the_weights_alone(gpu_check, tmp_path):
    weights = {"a": torch.ones(3), "b": torch.zeros(2)}
    for folder in ("sft/model", "rl1/final"):
        (tmp_path / folder).mkdir(parents=True)
        save_file(weights, str(tmp_path / folder / "model.safetensors"))
    assert gpu_check.rl_weights_change(tmp_path) == (False, "0 of 2 tensors changed")
    save_file({"a": torch.ones(3), "b": torch.tensor([0.0, 1e-3])}, str(tmp_path / "rl1/final/model.safetensors"))
    assert gpu_check.rl_weights_change(tmp_path) == (True, "1 of 2 tensors changed")


def test_coat_shares_count_valid_coat_actions_and_accuracy(tmp_path):
    real_model = load("real_model")
    rows = [{"completion": "<|continue|>2 + 2 = 4. The answer is \\boxed{4}.", "correct": True},
            {"completion": "<|continue|>2 + 2 = 5.<|reflect|>Wrong.<|explore|>2 + 2 = 4. \\boxed{4}", "correct": True},
            {"completion": "The answer is 4.", "correct": False},
            {"completion": "<|continue|>2 + 2 = 4, so", "correct": False}]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert real_model.coat_shares(path) == {"samples": 4, "valid_coat": 0.5, "uses_actions": 0.75, "accuracy": 0.5}
