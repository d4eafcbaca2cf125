"""Dynamic sampling (``rollout.filter_groups``): which groups a step trains on, and the driver refilling
from the prompt stream on a real local Ray instance, logging it, and resuming at the same prompt."""

from __future__ import annotations

import pytest

from satori.config import ConfigError, load_config
from train.rl.batch import Sample, round_size, select_groups, varied
from train.rl.config import RLConfig

SMALL = ["rollout.prompts_per_step=6", "rollout.samples_per_prompt=2", "rollout.max_new_tokens=12",
         "data.train=procedural:arith", "data.eval=procedural:arith", "data.train_size=30", "data.eval_size=6",
         "rae.enabled=false", "algo.mini_batches=2", "algo.advantage=grpo", "threads=1", "ray.num_cpus=2"]


def group(*rewards: float) -> list[Sample]:
    return [Sample([1], [2], [0.0], reward, group=0) for reward in rewards]


def test_select_groups_takes_varied_groups_first_then_tops_up_in_order():
    groups = [group(0, 0), group(0, -1), group(-1, -1), group(0.5, -1), group(0, -1)]
    assert select_groups(groups, 2) == [groups[1], groups[3]]
    assert select_groups(groups, 4) == [groups[0], groups[1], groups[3], groups[4]]  # one uniform group tops up
    assert select_groups(groups, 9) == groups
    assert [varied(g) for g in groups] == [False, True, False, True, True]


def test_round_size_draws_enough_prompts_for_the_varied_share_seen_at_most_twice_over():
    assert round_size(16, None) == 16                       # nothing seen yet
    assert round_size(16, 1.0) == 16
    assert round_size(16, 0.64) == 25                       # 16 / 0.64
    assert round_size(5, 0.6) == 9                          # ceil(8.33)
    assert round_size(16, 0.3) == 32 and round_size(16, 0.0) == 32


def test_filter_groups_needs_two_samples_per_prompt():
    with pytest.raises(ConfigError, match="rollout.filter_groups"):
        load_config(RLConfig, None, ["rollout.filter_groups=true", "rollout.samples_per_prompt=1",
                                     "algo.advantage=gae"])


@pytest.mark.slow
def test_driver_refills_to_varied_groups_logs_it_and_resumes_at_the_same_prompt(tmp_path, tiny_policy_dir):
    import ray

    from train.rl.driver import PPOTrainer

    config = load_config(RLConfig, None, [f"run_dir={tmp_path}", f"model.policy={tiny_policy_dir}", *SMALL,
                                          "rollout.filter_groups=true", "rollout.max_refill_rounds=5",
                                          "max_steps=3"])
    trainer = PPOTrainer(config)
    trained: list[list[Sample]] = []
    rollout_step = trainer.rollout_step

    def recording_rollout_step(timer):
        samples, metrics = rollout_step(timer)
        trained.append(samples)
        return samples, metrics

    def rewards_by_group(samples: list[Sample]) -> list[list[float]]:
        by_group: dict[int, list[float]] = {}
        for sample in samples:
            by_group.setdefault(sample.group, []).append(sample.reward)
        return list(by_group.values())

    trainer.rollout_step = recording_rollout_step
    round_sizes: list[int] = []
    make_prompts = trainer.make_prompts

    def recording_make_prompts(want=None):
        prompts = make_prompts(want)
        round_sizes.append(len(prompts))
        return prompts

    trainer.make_prompts = recording_make_prompts
    try:
        # some groups vary: an answer counts as correct when its text's length is a multiple of 3
        trainer.grade = lambda pairs: [{"status": "incorrect" if len(text) % 3 else "correct"} for text, _ in pairs]
        metrics = trainer.train_step()
        trainer.step += 1
        rounds = 1 + metrics["rollout/refill_generations"]
        generated = metrics["rollout/generated_groups"]
        assert 0 < metrics["rollout/filtered_share"] < 1 and metrics["rollout/padded_groups"] == 0
        assert rounds > 1 and len(round_sizes) == rounds and round_sizes[0] == 6     # nothing seen: no oversampling
        assert trainer.stream.position == generated == sum(round_sizes)
        assert all(1 <= size <= 6 for size in round_sizes[1:])                       # refills draw the missing groups
        groups = rewards_by_group(trained[0])
        assert len(groups) == 6 and all(len(set(rewards)) > 1 for rewards in groups)
        assert "loss/actor_grad_norm" in metrics

        # no answer correct: no group varies, the cap stops the refills, the batch keeps its size; each
        # round draws more than the 6 missing groups, by the first step's share of varied groups
        varied_share = trainer.varied_share
        assert varied_share == pytest.approx(1 - metrics["rollout/filtered_share"])
        del round_sizes[:]
        trainer.grade = lambda pairs: [{"status": "incorrect"} for _ in pairs]
        metrics = trainer.train_step()
        trainer.step += 1
        assert metrics["rollout/filtered_share"] == 1.0 and metrics["rollout/refill_generations"] == 5
        assert metrics["rollout/padded_groups"] == 6 and len(trained[1]) == 12
        assert round_sizes == [round_size(6, varied_share)] * 6 and round_sizes[0] > 6
        assert trainer.stream.position == generated + sum(round_sizes) and trainer.varied_share == 0

        trainer.save()
        position = trainer.stream.position
        upcoming = [p.problem_id for p in trainer.make_prompts()]
        trainer.shutdown()
        resumed = PPOTrainer(config)
        assert resumed.step == 2 and resumed.stream.position == position and resumed.varied_share == 0
        assert [p.problem_id for p in resumed.make_prompts()] == upcoming
        resumed.shutdown()
    finally:
        ray.shutdown()
