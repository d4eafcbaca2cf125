"""Learning-rate schedule values, SFT config validation errors, and the shipped SFT configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from satori.config import ConfigError, load_config
from train.sft.config import SFTConfig
from train.sft.trainer import lr_factor

ROOT = Path(__file__).resolve().parents[2]


def test_warmup_then_cosine_decay_to_floor():
    values = [lr_factor(s, max_steps=12, warmup_steps=2, schedule="cosine", min_lr_ratio=0.1) for s in range(13)]
    assert values[:2] == [0.5, 1.0]
    assert values[2] == pytest.approx(1.0)
    assert values[7] == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the decay
    assert values[12] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values[2:], values[3:]))


def test_linear_and_constant_schedules():
    assert lr_factor(5, 10, 0, "linear", 0.0) == pytest.approx(0.5)
    assert lr_factor(10, 10, 0, "linear", 0.0) == pytest.approx(0.0)
    assert lr_factor(9, 10, 3, "constant", 0.0) == 1.0
    assert lr_factor(0, 10, 4, "constant", 0.0) == 0.25


@pytest.mark.parametrize("overrides, message", [
    (["data.path="], "data.path"),
    (["data.overlength=cut"], "data.overlength"),
    (["data.template=Q: no placeholder"], "data.template"),
    (["data.val_size=2.5"], "data.val_size"),
    (["optim.lr=0"], "optim.lr"),
    (["optim.betas=[0.9]"], "optim.betas"),
    (["train.batch_size=0"], "train.batch_size"),
    (["train.precision=bfloat16"], "key 'train.precision' was replaced: use model.precision"),
    (["model.precision=bfloat16"], "model.precision"),
    (["model.precision=bf16-pure", "optim.lr=2e-5"], "use model.precision=bf16-mixed"),
    (["model.tiny.num_heads=4", "model.tiny.hidden_size=64"], "model.tiny.num_heads"),
    (["model.source=some/folder", "model.tiny.hidden_size=64"], "model.tiny"),
    (["data.max_length=4096"], "data.max_length"),
    (["checkpoint_every=-1"], "checkpoint_every"),
    (["checkpoint.every=5"], "key 'checkpoint.every' was renamed: use checkpoint_every"),
    (["tracking.log_every=0"], "tracking.log_every"),
    (["train.lr=1e-3"], "unknown key 'train.lr'"),
])
def test_invalid_settings_name_the_key(overrides, message):
    base = ["data.path=demos.jsonl"]
    with pytest.raises(ConfigError) as info:
        load_config(SFTConfig, None, base + overrides)
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["sft_tiny.yaml", "sft_smollm2.yaml"])
def test_shipped_configs_load(name):
    config = load_config(SFTConfig, ROOT / "configs" / name)
    assert config.data.path and config.run_dir


def test_pipeline_yaml_sft_section(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("synth:\n  whatever: 1\nsft:\n  run_dir: runs/x\n  data:\n    path: d.jsonl\n")
    config = load_config(SFTConfig, path, ["sft.optim.lr=5e-4"], section="sft")
    assert (config.run_dir, config.data.path, config.optim.lr) == ("runs/x", "d.jsonl", 5e-4)
