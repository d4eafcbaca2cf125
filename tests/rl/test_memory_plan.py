"""`satori rl --dry-run`: the device-memory plan, from a model config alone."""

from __future__ import annotations

import pytest
from transformers import Qwen2Config

from satori.config import load_config
from train.rl.config import RLConfig
from train.rl.memory_plan import count_parameters, format_plan, plan_rows

SMALL = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=300, tie_word_embeddings=False)


def rl_config(**overrides) -> RLConfig:
    return load_config(RLConfig, None, [f"{k}={v}" for k, v in overrides.items()])


def items(rows) -> dict[str, float]:
    return {row.item.split(" (")[0]: row.gib for row in rows}


def test_parameters_are_counted_exactly_without_loading_weights():
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(SMALL)
    total, head = count_parameters(SMALL)
    assert total == sum(p.numel() for p in model.parameters())
    assert head == 300 * 64
    tied = Qwen2Config(**{**SMALL.to_dict(), "tie_word_embeddings": True})
    assert count_parameters(tied) == (total - head, 0)


def test_precision_checkpointing_critic_and_reference_change_the_plan():
    fp32 = items(plan_rows(rl_config(**{"algo.advantage": "grpo"}), SMALL))
    pure = items(plan_rows(rl_config(**{"algo.advantage": "grpo", "model.precision": "bf16-pure",
                                        "algo.actor_lr": 1e-4}), SMALL))
    assert pure["actor weights"] == pytest.approx(fp32["actor weights"] / 2)
    assert "critic weights, gradients, AdamW moments" not in fp32
    assert "critic weights, gradients, AdamW moments" in items(plan_rows(rl_config(**{"algo.advantage": "gae"}), SMALL))
    assert "reference policy" not in fp32
    assert "reference policy" in items(plan_rows(rl_config(**{"algo.advantage": "grpo", "algo.kl_coef": 0.01}), SMALL))
    kept = plan_rows(rl_config(**{"algo.advantage": "grpo"}), SMALL)
    checkpointed = plan_rows(rl_config(**{"algo.advantage": "grpo", "model.gradient_checkpointing": True}), SMALL)
    assert [r.gib for r in checkpointed if r.item.startswith("activations")][0] < \
        [r.gib for r in kept if r.item.startswith("activations")][0]


def test_colocated_engines_that_sleep_peak_at_the_larger_phase():
    config = rl_config(**{"algo.advantage": "grpo", "resources.colocate": True, "resources.gpus_per_engine": 1,
                          "resources.gpus_per_learner": 1, "rollout.gpu_memory_utilization": 0.5})
    table, fits = format_plan(config, SMALL, device_gib=1.0)
    assert fits and "colocated device peak" in table and "0.50" in table     # the engine's half of 1 GiB
    learner = sum(r.gib for r in plan_rows(config, SMALL) if r.where == "learner")
    table, fits = format_plan(config, SMALL, device_gib=learner * 0.9)
    assert not fits and "does NOT fit" in table


def test_dry_run_prints_the_paper_config_plan(capsys):
    from satori.cli import main

    code = main(["rl", "configs/rl_paper_7b.yaml", "--dry-run",
                 "--architecture", "configs/architectures/qwen2.5-math-7b.json"])
    out = capsys.readouterr().out
    assert "actor weights (7.62B params" in out and "activations, checkpointed" in out
    assert code == 1 and "does NOT fit on 80 GiB" in out and "--engine openrlhf" in out
    assert main(["rl", "configs/rl_paper_7b.yaml", "--dry-run"]) == 2
    assert "pass --architecture" in capsys.readouterr().err
