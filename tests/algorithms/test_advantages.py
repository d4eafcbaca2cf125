"""Advantage estimators: hand-computed 3-token cases, loop references, padding, errors."""

import pytest
import torch

from satori.rewards import correctness_reward
from train.algorithms.advantages import (ADVANTAGE_ESTIMATORS, RAFT_MIN_SCORE, compute_advantages, discounted_returns,
                                         gae, grpo, grpo_no_std, place_on_last_token, raft, reinforce_pp,
                                         reinforce_pp_baseline, rloo, zero_advantage_group_share)
from train.algorithms.logprobs import masked_mean, masked_var
from train.algorithms.losses import policy_loss

NAN = float("nan")


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=1e-5)


# ---- hand-computed values -------------------------------------------------------------------------------------

def test_gae_three_tokens_by_hand():
    # gamma 0.9, lambda 0.8: delta = [0.04, 0.03, 0.3]; A2 = 0.3, A1 = 0.03 + 0.72 * 0.3, A0 = 0.04 + 0.72 * A1
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.6, 0.7]])
    advantages, returns = gae(rewards, torch.ones(1, 3), values=values, gamma=0.9, gae_lambda=0.8)
    close(advantages, [[0.21712, 0.246, 0.3]])
    close(returns, [[0.71712, 0.846, 1.0]])


def test_gae_skips_a_hole_in_the_mask():
    # the middle token is padding (NaN everywhere): token 0 bootstraps from token 2 directly
    rewards = torch.tensor([[0.0, NAN, 1.0]])
    values = torch.tensor([[0.5, NAN, 0.7]])
    advantages, returns = gae(rewards, torch.tensor([[1, 0, 1]]), values=values, gamma=0.9, gae_lambda=0.8)
    close(advantages, [[0.13 + 0.72 * 0.3, 0.0, 0.3]])
    close(returns, [[0.5 + 0.13 + 0.72 * 0.3, 0.0, 1.0]])


def test_gae_with_lambda_one_is_monte_carlo_return_minus_value():
    torch.manual_seed(0)
    rewards, values = torch.randn(4, 6), torch.randn(4, 6)
    mask = torch.ones(4, 6)
    advantages, returns = gae(rewards, mask, values=values, gamma=0.95, gae_lambda=1.0)
    close(advantages, discounted_returns(rewards, mask, 0.95) - values)
    close(returns, discounted_returns(rewards, mask, 0.95))


ONE_GROUP = torch.tensor([7, 7, 7])
OUTCOMES = place_on_last_token(torch.tensor([1.0, 0.0, 0.0]), torch.ones(3, 3))


def test_grpo_three_samples_by_hand():
    # scores 1, 0, 0: mean 1/3, unbiased std sqrt(1/3) (one group: the batch std is the group's)
    advantages, returns = grpo(OUTCOMES, torch.ones(3, 3), group_ids=ONE_GROUP)
    std = (1 / 3) ** 0.5 + 1e-6
    close(advantages, torch.tensor([2 / 3, -1 / 3, -1 / 3])[:, None].expand(3, 3) / std)
    close(returns, torch.tensor([1.0, 0.0, 0.0])[:, None].expand(3, 3))


def test_grpo_divides_by_the_batch_std_not_the_group_std():
    # groups {0, -1} and {0.5, -1, -1, -1}: group means -0.5 and -0.625; the 6 scores have mean -7/12,
    # unbiased variance (7^2 + 5^2 + 13^2 + 3 * 5^2) / 12^2 / 5 = 53/120
    scores = torch.tensor([0.0, -1.0, 0.5, -1.0, -1.0, -1.0])
    advantages, _ = grpo(place_on_last_token(scores, torch.ones(6, 2)), torch.ones(6, 2),
                         group_ids=torch.tensor([0, 0, 1, 1, 1, 1]))
    expected = torch.tensor([0.5, -0.5, 1.125, -0.375, -0.375, -0.375]) / ((53 / 120) ** 0.5 + 1e-6)
    close(advantages, expected[:, None].expand(6, 2))


def test_raft_keeps_correct_samples_with_advantage_one():
    # scores: correct 0, incorrect -1, repaired restart 0.5, broken restart -1.5, correct but overlong -0.2
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]])
    rewards = place_on_last_token(torch.tensor([0.0, -1.0, 0.5, -1.5, -0.2]), mask)
    advantages, returns = raft(rewards, mask, gamma=0.5)
    close(advantages, [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    close(returns, [[0.0, 0.0, 0.0], [-0.5, -1.0, 0.0], [0.125, 0.25, 0.5], [-1.5, 0.0, 0.0], [-0.05, -0.1, -0.2]])
    assert RAFT_MIN_SCORE == correctness_reward(True)


def test_raft_policy_gradient_at_ratio_one_is_the_nll_gradient_of_the_kept_samples():
    torch.manual_seed(0)
    mask = torch.ones(3, 4)
    advantages, _ = raft(place_on_last_token(torch.tensor([0.0, -1.0, 0.5]), mask), mask)
    logprobs = torch.randn(3, 4, requires_grad=True)
    policy_loss(logprobs, logprobs.detach(), advantages, mask).loss.sum().backward()
    close(logprobs.grad, -torch.tensor([1.0, 0.0, 1.0])[:, None].expand(3, 4))


def test_grpo_no_std_and_rloo_by_hand():
    advantages, _ = grpo_no_std(OUTCOMES, torch.ones(3, 3), group_ids=ONE_GROUP)
    close(advantages, torch.tensor([2 / 3, -1 / 3, -1 / 3])[:, None].expand(3, 3))
    advantages, _ = rloo(OUTCOMES, torch.ones(3, 3), group_ids=ONE_GROUP)
    close(advantages, torch.tensor([1.0, -0.5, -0.5])[:, None].expand(3, 3))


def test_reinforce_pp_by_hand():
    # returns-to-go (gamma 1): 1,1,1 and -1,-1; five tokens, mean 0.2, unbiased var 1.2
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    advantages, returns = reinforce_pp(rewards, mask)
    close(returns, [[1.0, 1.0, 1.0], [-1.0, -1.0, 0.0]])
    close(advantages, [[0.8 / 1.2 ** 0.5] * 3, [-1.2 / 1.2 ** 0.5] * 2 + [0.0]])


def test_reinforce_pp_discounts():
    advantages, returns = reinforce_pp(torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3), gamma=0.5)
    close(returns, [[0.25, 0.5, 1.0]])
    close(masked_mean(advantages, torch.ones(1, 3)), 0.0)


def test_reinforce_pp_baseline_by_hand():
    # scores 1 and 0 in one group: the group mean 0.5 comes off the last token -> returns-to-go +-0.5
    rewards = place_on_last_token(torch.tensor([1.0, 0.0]), torch.ones(2, 3))
    advantages, returns = reinforce_pp_baseline(rewards, torch.ones(2, 3), group_ids=torch.tensor([0, 0]))
    close(returns, [[1.0] * 3, [0.0] * 3])
    close(advantages, [[0.5 / 0.3 ** 0.5] * 3, [-0.5 / 0.3 ** 0.5] * 3])


def test_place_on_last_token():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, 0]])
    close(place_on_last_token(torch.tensor([2.0, 3.0, 4.0]), mask), [[0, 2.0, 0], [0, 0, 3.0], [0, 4.0, 0]])
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        place_on_last_token(torch.tensor([1.0, 1.0]), torch.tensor([[1, 0], [0, 0]]))


def test_zero_advantage_group_share():
    # group 3: scores 1, 1 (no signal); group 5: scores 0, 1
    rewards = place_on_last_token(torch.tensor([1.0, 1.0, 0.0, 1.0]), torch.ones(4, 3))
    group_ids = torch.tensor([3, 3, 5, 5])
    advantages, _ = grpo(rewards, torch.ones(4, 3), group_ids=group_ids)
    assert zero_advantage_group_share(advantages, torch.ones(4, 3), group_ids) == 0.5


def test_whitening_option():
    torch.manual_seed(1)
    rewards, values = torch.randn(5, 4), torch.randn(5, 4)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]])
    advantages, _ = compute_advantages("gae", rewards, mask, values=values, gamma=1.0, gae_lambda=0.95, whiten=True)
    close(masked_mean(advantages, mask), 0.0)
    close(masked_var(advantages, mask), 1.0, atol=1e-4)
    assert (advantages[mask == 0] == 0).all()


def test_bad_inputs_are_refused_with_the_fix():
    mask = torch.ones(2, 3)
    with pytest.raises(ValueError, match="critic values"):
        gae(torch.zeros(2, 3), mask)
    with pytest.raises(ValueError, match="group_ids"):
        grpo(torch.zeros(2, 3), mask)
    with pytest.raises(ValueError, match="at least 2 samples"):
        rloo(torch.zeros(2, 3), mask, group_ids=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="choose one of"):
        compute_advantages("ppo", torch.zeros(2, 3), mask)


# ---- python-loop references on random data ----------------------------------------------------------------------

def random_batch(seed, batch=16, length=12):
    """Rewards, values, masks (right padding plus holes), and 4 shuffled groups of 4."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    holes = torch.rand(batch, length, generator=generator) < 0.15
    holes[torch.arange(batch), lengths - 1] = False  # keep each row's last token
    mask[holes] = 0
    rewards = torch.randn(batch, length, generator=generator, dtype=torch.float64)
    values = torch.randn(batch, length, generator=generator, dtype=torch.float64)
    group_ids = torch.arange(batch)[torch.randperm(batch, generator=generator)] % 4
    return rewards, values, mask, group_ids


def loop_gae(rewards, values, mask, gamma, lam):
    advantages = torch.zeros_like(rewards)
    for b in range(rewards.shape[0]):
        positions = [t for t in range(rewards.shape[1]) if mask[b, t]]
        running, next_value = 0.0, 0.0
        for t in reversed(positions):
            delta = rewards[b, t].item() + gamma * next_value - values[b, t].item()
            running = delta + gamma * lam * running
            advantages[b, t] = running
            next_value = values[b, t].item()
    return advantages


def loop_group_advantages(rewards, mask, group_ids, kind):
    scores = [sum(rewards[b, t].item() for t in range(rewards.shape[1]) if mask[b, t]) for b in range(len(rewards))]
    advantages = torch.zeros_like(rewards)
    for b in range(len(rewards)):
        group = [scores[i] for i in range(len(rewards)) if group_ids[i] == group_ids[b]]
        mean = sum(group) / len(group)
        batch_mean = sum(scores) / len(scores)
        batch_std = (sum((s - batch_mean) ** 2 for s in scores) / (len(scores) - 1)) ** 0.5
        others = (sum(group) - scores[b]) / (len(group) - 1)
        value = {"grpo": (scores[b] - mean) / (batch_std + 1e-6), "grpo_no_std": scores[b] - mean,
                 "rloo": scores[b] - others}[kind]
        for t in range(rewards.shape[1]):
            if mask[b, t]:
                advantages[b, t] = value
    return advantages


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gae_matches_python_loop(seed):
    rewards, values, mask, _ = random_batch(seed)
    advantages, returns = gae(rewards, mask, values=values, gamma=0.97, gae_lambda=0.9)
    expected = loop_gae(rewards, values, mask, 0.97, 0.9)
    close(advantages, expected)
    close(returns, torch.where(mask.bool(), expected + values, 0.0))


@pytest.mark.parametrize("kind", ["grpo", "grpo_no_std", "rloo"])
@pytest.mark.parametrize("seed", [0, 1])
def test_group_estimators_match_python_loop(kind, seed):
    rewards, _, mask, group_ids = random_batch(seed)
    advantages, _ = ADVANTAGE_ESTIMATORS[kind].compute(rewards, mask, group_ids=group_ids)
    close(advantages, loop_group_advantages(rewards, mask, group_ids, kind))


def test_discounted_returns_match_python_loop():
    rewards, _, mask, _ = random_batch(3)
    expected = torch.zeros_like(rewards)
    for b in range(len(rewards)):
        running = 0.0
        for t in reversed(range(rewards.shape[1])):
            if mask[b, t]:
                running = rewards[b, t].item() + 0.9 * running
                expected[b, t] = running
    close(discounted_returns(rewards, mask, 0.9), expected)


@pytest.mark.parametrize("name", sorted(ADVANTAGE_ESTIMATORS))
def test_padding_never_affects_results(name):
    rewards, values, mask, group_ids = random_batch(4)
    clean = compute_advantages(name, rewards, mask, values=values, group_ids=group_ids, gamma=0.9, gae_lambda=0.9)
    pad = mask == 0
    dirty = compute_advantages(name, rewards.masked_fill(pad, NAN), mask, values=values.masked_fill(pad, 1e6),
                               group_ids=group_ids, gamma=0.9, gae_lambda=0.9)
    for clean_part, dirty_part in zip(clean, dirty):
        torch.testing.assert_close(clean_part, dirty_part)
        assert (dirty_part[pad] == 0).all()
