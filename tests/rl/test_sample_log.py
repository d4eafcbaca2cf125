"""Rollout samples kept during PPO (``rollout_samples.jsonl``): which ones, their fields, resuming, and a
real run on a local Ray instance whose samples the viewer reads."""

from __future__ import annotations

import json

import pytest

from satori.config import ConfigError, load_config
from train.rl.config import RLConfig
from train.rl.rae import RolloutPrompt
from train.rl.sample_log import SAMPLES_FILE, RolloutSampleLog, spread


def rows(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / SAMPLES_FILE).read_text().splitlines()]


def offer(log: RolloutSampleLog, count: int, step_tag: str = "") -> None:
    for i in range(count):
        prompt = RolloutPrompt(f"p{step_tag}{i}", "Compute 1 + 1.", "2", "<|continue|>1 + 1 = 3.<|reflect|>" if i < 2 else "",
                               -1 if i < 2 else 0)
        log.add(prompt, {"text": f"t{i}", "token_ids": [1, 2, 3], "finish_reason": "stop"},
                {"status": "correct" if i % 2 else "incorrect", "extracted": "2"}, {"reward/total": float(i)})


def test_spread_keeps_the_first_and_spaces_the_rest_evenly():
    assert spread(10, 4) == [0, 2, 5, 7]
    assert spread(3, 16) == [0, 1, 2]
    assert spread(5, 0) == []


def test_a_logged_step_keeps_a_bounded_spread_of_restart_and_plain_samples(tmp_path):
    log = RolloutSampleLog(tmp_path, per_step=4)
    assert not (tmp_path / SAMPLES_FILE).exists()             # nothing written before a logged step
    offer(log, 12)
    log.write(1, due=False)                                   # a step that is not logged
    offer(log, 12)
    log.write(2, due=True)
    kept = rows(tmp_path)
    assert [r["problem_id"] for r in kept] == ["p0", "p3", "p6", "p9"] and {r["step"] for r in kept} == {2}
    first = kept[0]
    assert first["prompt_kind"] == "restart" and first["reflect_status"] == -1 and first["prefix"].endswith("<|reflect|>")
    assert (first["completion"], first["extracted"], first["status"], first["correct"]) == ("t0", "2", "incorrect", False)
    assert first["reward"] == {"reward/total": 0.0} and first["tokens"] == 3 and first["finish_reason"] == "stop"
    assert kept[1]["prompt_kind"] == "plain" and kept[1]["correct"] is True


def test_resuming_drops_the_samples_after_the_checkpoint_and_a_fresh_run_starts_over(tmp_path):
    log = RolloutSampleLog(tmp_path, per_step=2)
    for step in (1, 2, 3):
        offer(log, 4)
        log.write(step, due=True)
    RolloutSampleLog(tmp_path, per_step=2, resume_step=2)
    assert [r["step"] for r in rows(tmp_path)] == [1, 1, 2, 2]
    RolloutSampleLog(tmp_path, per_step=2, resume_step=None)
    assert rows(tmp_path) == []


def test_zero_per_step_logs_nothing_and_negative_settings_are_refused(tmp_path):
    log = RolloutSampleLog(tmp_path, per_step=0)
    offer(log, 4)
    log.write(1, due=True)
    assert not (tmp_path / SAMPLES_FILE).exists()
    for key in ("log_samples_every", "log_samples_per_step"):
        with pytest.raises(ConfigError, match=key):
            load_config(RLConfig, None, [f"{key}=-1"])


@pytest.mark.slow  # PPO on a local Ray instance
def test_a_ppo_run_logs_restart_and_plain_samples_that_the_viewer_reads(tmp_path, tiny_policy_dir):
    import ray

    from satori.viewer.sources import load
    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [
        f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", "max_steps=3", "eval_every=3", "checkpoint_every=3",
        "log_samples_every=2", "log_samples_per_step=5", "rollout.prompts_per_step=6", "rollout.samples_per_prompt=2",
        "rollout.max_new_tokens=12", "rae.restart_ratio=0.5", "rae.offline_problems=6", "data.train=procedural:arith",
        "data.eval=procedural:arith", "data.train_size=30", "data.eval_size=4", "threads=1", "ray.num_cpus=2"])
    try:
        PPOTrainer(config).train()
    finally:
        ray.shutdown()
    kept = rows(tmp_path)
    assert [r["step"] for r in kept] == [2] * 5 + [3] * 5       # every 2nd step and the last, 5 each
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    restarted = {row["step"] for row in metrics if row.get("rae/restart_share")}  # the tiny policy's COAT is rarely valid
    for step in (2, 3):  # restart prompts come first in a step, and the first sample is always kept
        first = next(r for r in kept if r["step"] == step)
        assert (first["prompt_kind"] == "restart") == (step in restarted)
    for row in kept:
        assert row["prefix"].endswith("<|reflect|>") == (row["prompt_kind"] == "restart") == (row["reflect_status"] != 0)
        assert row["correct"] == (row["status"] == "correct") and "reward/total" in row["reward"]
        assert row["reward"]["reward/correctness"] == (0.0 if row["correct"] else -1.0)
    table = load([tmp_path])
    assert table.sources[0]["kind"] == "rollout" and len(table.samples) == 10
