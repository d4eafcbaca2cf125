"""A PPO run with the outcome reward model term on: reward-model actors score every sample, reward/orm is logged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from train.checkpoint import TRAINING_STATE_FILE

pytestmark = pytest.mark.slow  # PPO on a local Ray instance, a CLI subprocess

SMALL = ["rollout.prompts_per_step=4", "rollout.samples_per_prompt=2", "rollout.max_new_tokens=12",
         "data.train=procedural:arith", "data.eval=procedural:arith", "data.train_size=20", "data.eval_size=4",
         "rae.enabled=false", "algo.advantage=grpo", "algo.actor_lr=1e-4", "threads=1", "ray.num_cpus=2",
         "max_steps=2", "eval_every=2", "checkpoint_every=2", "tracking.tensorboard=false"]


def test_ppo_run_logs_the_orm_term(tmp_path, tiny_policy_dir, tiny_orm_dir):
    command = [sys.executable, "-m", "satori.cli", "rl", f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}",
               f"reward.orm={tiny_orm_dir}", "reward.orm_scale=0.5", "reward.orm_workers=2", "reward.bonus_scale=0",
               *SMALL]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "reward/orm" in row]
    assert [row["step"] for row in steps] == [1, 2]
    for row in steps:   # each sample's term is 0.5 * sigmoid(z), strictly inside (0, 0.5); the batch mean too
        assert 0.0 < row["reward/orm"] < 0.5
        assert row["reward/total"] == pytest.approx(row["reward/correctness"] + row["reward/orm"], abs=1e-6)
    state = torch.load(tmp_path / "checkpoint-000002" / TRAINING_STATE_FILE, weights_only=False)
    assert state["orm_norm"]["count"] == 2 * 4 * 2   # every sample of both steps was scored once
