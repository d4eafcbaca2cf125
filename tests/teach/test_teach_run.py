"""`satori teach` end to end on a local Ray instance: tiny teacher and student built in-process, GRPO steps
on the PPO engine with student scoring actors, metrics and plot, and the distillation files (resuming is the
PPO engine's own, tested in tests/rl/test_driver.py)."""

from __future__ import annotations

import json
import math

import pytest

from satori.cli import main
from satori.config import load_config
from satori.io import read_jsonl
from train.teach.config import TeachConfig

pytestmark = pytest.mark.slow  # `satori teach` on Ray: GRPO steps

TINY = ["model.tiny.teacher_steps=3", "model.tiny.student_steps=3", "model.tiny.warmup_problems=24",
        "model.tiny.vocab_size=400", "data.train_size=24", "data.eval_size=3", "eval_samples=2", "eval_every=1",
        "rollout.prompts_per_step=2", "rollout.samples_per_prompt=3", "rollout.max_new_tokens=24",
        "distill.size=4", "tracking.tensorboard=false", "threads=1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, ray_local):
    path = tmp_path_factory.mktemp("teach")
    assert main(["teach", "configs/teach_tiny.yaml", f"run_dir={path}", "max_steps=2", *TINY]) == 0
    return path


def rows(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_run_logs_rewards_plots_and_exports_the_teacher(run_dir):
    logged = rows(run_dir)
    assert [r["step"] for r in logged] == [0, 1, 2]
    for row in logged[1:]:
        for key in ("reward/total", "reward/r_ss", "reward/r_kl", "reward/format_ok", "eval/reward",
                    "loss/policy", "rollout/kl_to_ref", "perf/reward_s"):
            assert math.isfinite(row[key]), key
        assert row["reward/r_ss"] < 0          # log-likelihoods of the solution
    assert (run_dir / "reward.png").stat().st_size > 1000
    assert load_config(TeachConfig, run_dir / "config.yaml").format.variant == "coat"  # the teacher config
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run_dir / "final").num_parameters() > 0


def test_distillation_files_account_for_every_sample(run_dir):
    stats = json.loads((run_dir / "distill" / "stats.json").read_text())
    demos = [row for _, row in read_jsonl(run_dir / "distill" / "demos.jsonl")]
    assert stats["samples"] == 4 and stats["kept"] == len(demos)
    assert stats["kept"] + sum(stats["rejections"].values()) == stats["samples"]
    assert 0.0 <= stats["valid_coat_share"] <= 1.0

