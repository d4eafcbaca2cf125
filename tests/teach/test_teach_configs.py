"""Both shipped teacher configs load and validate; the 7B one carries the published hyper-parameters."""

from __future__ import annotations

from pathlib import Path

from satori.config import load_config
from train.teach.config import TeachConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_tiny_config_is_a_cpu_run_with_tiny_models():
    config = load_config(TeachConfig, CONFIGS / "teach_tiny.yaml")
    assert (config.model.teacher, config.model.student, config.rollout.engine) == ("tiny", "tiny", "hf")
    assert config.model.tiny.hidden_size // config.model.tiny.num_heads == 64


def test_7b_config_carries_the_published_hyper_parameters():
    config = load_config(TeachConfig, CONFIGS / "teach_7b.yaml")
    assert (config.rollout.samples_per_prompt, config.rollout.temperature) == (64, 0.7)
    assert (config.algo.advantage, config.algo.kl_coef, config.algo.actor_lr) == ("grpo", 0.04, 1e-6)
    assert (config.reward.alpha, config.reward.kl_weight, config.reward.format_penalty) == (0.01, 3.0, -1.0)
    assert config.format.variant == "coat" and config.model.precision == "bf16-mixed"


def test_dynamic_sampling_is_refused_where_it_is_not_implemented():
    """The teacher's PPO loop trains on every group; a filter_groups it would ignore is refused."""
    import pytest

    from satori.config import ConfigError

    with pytest.raises(ConfigError, match=r"rollout\.filter_groups"):
        load_config(TeachConfig, CONFIGS / "teach_tiny.yaml", ["rollout.filter_groups=true"])
