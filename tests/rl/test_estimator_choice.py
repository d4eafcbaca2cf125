"""Advantages of a PPO batch whose rewards come from satori's reward shaping: the restart bonus moves
every estimator, the whitening default per estimator, and the config reading the estimator registry."""

from __future__ import annotations

import pytest
import torch

from satori.config import ConfigError, load_config
from train.algorithms.advantages import ADVANTAGE_ESTIMATORS
from train.rl.batch import Sample, add_advantages, collate
from train.rl.config import AlgoConfig, RewardConfig, RLConfig
from train.rl.reward import Graded, reward_terms

# (reflect_status, correct) per sample, four per prompt: a plain problem half solved, a restart from an
# incorrect prefix that one sample repairs, a restart from a correct prefix that one sample breaks,
# and a plain problem every sample solves
GROUPS = [[(0, True), (0, False), (0, True), (0, False)],
          [(-1, True), (-1, False), (-1, False), (-1, False)],
          [(1, True), (1, True), (1, True), (1, False)],
          [(0, True), (0, True), (0, True), (0, True)]]


def advantages(name: str, bonus_scale: float, **algo) -> torch.Tensor:
    """``(B, L-1)`` advantages of GROUPS through ``add_advantages``, with rewards from ``reward_terms``."""
    reward = RewardConfig(bonus_scale=bonus_scale)
    samples = [Sample([3, 4], [5] * (2 + row % 3), [0.0] * (2 + row % 3),
                      reward_terms(Graded(correct, status), reward)["reward/total"], group=group, reflect_status=status)
               for group, outcomes in enumerate(GROUPS) for row, (status, correct) in enumerate(outcomes)]
    batch = collate(samples, pad_id=0)
    batch["logprobs_old"] = batch["rollout_logprobs"].clone()
    batch["values_old"] = torch.linspace(-1.0, 0.0, batch["action_mask"].numel()).view_as(batch["action_mask"])
    add_advantages(batch, AlgoConfig(advantage=name, **algo))
    return batch["advantages"]


@pytest.mark.parametrize("name", sorted(set(ADVANTAGE_ESTIMATORS) - {"raft"}))
def test_the_restart_bonus_changes_the_advantages_of_every_estimator(name):
    assert not torch.allclose(advantages(name, 0.0), advantages(name, 0.5), atol=1e-4)


def test_raft_ignores_reward_magnitudes_beyond_correctness():
    assert torch.equal(advantages("raft", 0.0), advantages("raft", 0.5))
    kept = advantages("raft", 0.5).amax(-1)
    assert kept.tolist() == [float(correct) for outcomes in GROUPS for _, correct in outcomes]


@pytest.mark.parametrize("name", ["grpo", "grpo_no_std", "rloo", "reinforce_pp_baseline", "raft"])
def test_group_estimators_and_raft_are_not_whitened_by_default(name):
    assert AlgoConfig(advantage=name).whiten is False
    assert AlgoConfig(advantage=name, whiten_advantages=True).whiten is True


@pytest.mark.parametrize("name", ["grpo", "grpo_no_std", "rloo"])
def test_an_all_correct_group_gets_zero_advantage_by_default(name):
    assert (advantages(name, 0.5)[12:] == 0).all()
    assert (advantages(name, 0.5, whiten_advantages=True)[12:] != 0).any()  # asked for: whitened


@pytest.mark.parametrize("name", ["gae", "reinforce_pp"])
def test_gae_and_reinforce_pp_are_whitened_by_default(name):
    assert AlgoConfig(advantage=name).whiten is True
    assert AlgoConfig(advantage=name, whiten_advantages=False).whiten is False


def test_config_takes_estimator_names_and_needs_from_the_registry():
    for name, estimator in ADVANTAGE_ESTIMATORS.items():
        config = load_config(RLConfig, None, [f"algo.advantage={name}", "rollout.samples_per_prompt=2"])
        assert config.uses_critic is estimator.needs_critic
    with pytest.raises(ConfigError, match="algo.advantage"):
        load_config(RLConfig, None, ["algo.advantage=ppo"])
    with pytest.raises(ConfigError, match="rollout.samples_per_prompt"):
        load_config(RLConfig, None, ["algo.advantage=rloo", "rollout.samples_per_prompt=1"])
    load_config(RLConfig, None, ["algo.advantage=raft", "rollout.samples_per_prompt=1"])
    with pytest.raises(ConfigError, match="algo.kl_mode"):
        load_config(RLConfig, None, ["algo.advantage=raft", "algo.kl_coef=0.01", "algo.kl_mode=reward"])
    assert load_config(RLConfig, None, ["algo.whiten_advantages=null"]).algo.whiten_advantages is None
