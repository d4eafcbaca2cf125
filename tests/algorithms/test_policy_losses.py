"""Policy and value losses, and their aggregation: hand-computed cases and invariances."""

import math

import pytest
import torch

from train.algorithms.logprobs import masked_mean
from train.algorithms.losses import AGGREGATION_MODES, aggregate, policy_loss, value_loss

ALL = torch.ones(1, 3)


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=1e-5)


def test_policy_loss_three_tokens_by_hand():
    # ratios 1.5, 0.5, 1.1; A = 1, -1, 2; eps low 0.2, high 0.28
    logprobs = torch.log(torch.tensor([[1.5, 0.5, 1.1]])).requires_grad_()
    out = policy_loss(logprobs, torch.zeros(1, 3), torch.tensor([[1.0, -1.0, 2.0]]), ALL,
                      clip_eps_low=0.2, clip_eps_high=0.28)
    close(out.loss, [[-1.28, 0.8, -2.2]])
    assert out.clipped.tolist() == [[True, True, False]]
    out.loss.sum().backward()
    close(logprobs.grad, [[0.0, 0.0, -2.2]])  # clipped tokens give no gradient; d(-A r)/d logp = -A r
    close(out.ratio, [[1.5, 0.5, 1.1]])
    assert out.stats(ALL)["clip_frac"] == pytest.approx(2 / 3)
    # approx KL is k3 of KL(pi_old || pi): r - 1 - log r
    close(out.approx_kl, [[r - 1 - math.log(r) for r in (1.5, 0.5, 1.1)]])


def test_asymmetric_clip_bounds():
    # ratio 0.75 with A < 0: clipped up to 1 - eps_low = 0.8; ratio 1.25 with A > 0 is inside 1 + eps_high = 1.28
    logprobs = torch.log(torch.tensor([[0.75, 1.25, 1.0]]))
    out = policy_loss(logprobs, torch.zeros(1, 3), torch.tensor([[-1.0, 1.0, 1.0]]), ALL,
                      clip_eps_low=0.2, clip_eps_high=0.28)
    close(out.loss, [[0.8, -1.25, -1.0]])
    assert out.clipped.tolist() == [[True, False, False]]


def test_dual_clip_by_hand():
    # A = -1 everywhere, ratios 5, 2, 0.5, c = 3: loss 5 capped at 3; 2 stays; 0.5 clipped up to 0.8
    logprobs = torch.log(torch.tensor([[5.0, 2.0, 0.5]])).requires_grad_()
    out = policy_loss(logprobs, torch.zeros(1, 3), -torch.ones(1, 3), ALL, dual_clip_c=3.0)
    close(out.loss, [[3.0, 2.0, 0.8]])
    assert out.dual_clipped.tolist() == [[True, False, False]]
    out.loss.sum().backward()
    close(logprobs.grad, [[0.0, 2.0, 0.0]])
    no_dual = policy_loss(logprobs.detach(), torch.zeros(1, 3), -torch.ones(1, 3), ALL)
    close(no_dual.loss, [[5.0, 2.0, 0.8]])


def test_on_policy_loss_is_minus_advantage():
    torch.manual_seed(0)
    logprobs = torch.randn(4, 5).requires_grad_()
    advantages = torch.randn(4, 5)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    out = policy_loss(logprobs, logprobs.detach(), advantages, mask, dual_clip_c=3.0)
    close(out.loss, torch.where(mask.bool(), -advantages, 0.0))
    loss = aggregate(out.loss, mask, "token_mean")
    close(loss, -masked_mean(advantages, mask))
    assert out.stats(mask) == {"clip_frac": 0.0, "dual_clip_frac": 0.0, "approx_kl": 0.0, "ratio_mean": 1.0}
    loss.backward()  # the policy gradient: -A / (token count) on every response token
    close(logprobs.grad, torch.where(mask.bool(), -advantages / mask.sum(), 0.0))


def test_padding_never_feeds_the_policy_loss_or_its_gradient():
    logprobs = torch.tensor([[-1.0, float("nan"), 1e4]]).requires_grad_()
    mask = torch.tensor([[1, 0, 0]])
    out = policy_loss(logprobs, torch.tensor([[-1.0, 0.0, -1e4]]), torch.tensor([[2.0, float("inf"), 1.0]]), mask)
    close(out.loss, [[-2.0, 0.0, 0.0]])
    aggregate(out.loss, mask).backward()
    close(logprobs.grad, [[-2.0, 0.0, 0.0]])
    assert not out.clipped[0, 1:].any()


def test_value_loss_three_tokens_by_hand():
    values = torch.tensor([[1.0, 0.0, 2.0]], requires_grad=True)
    values_old = torch.full((1, 3), 0.5)
    returns = torch.tensor([[0.0, 1.0, 2.0]])
    # clipped values 0.7, 0.3, 0.7 -> clipped errors 0.49, 0.49, 1.69; plain errors 1, 1, 0
    out = value_loss(values, values_old, returns, ALL, value_clip=0.2)
    close(out.loss, [[0.5, 0.5, 0.845]])
    assert out.clipped.tolist() == [[False, False, True]]
    out.loss.sum().backward()
    close(values.grad, [[1.0, -1.0, 0.0]])  # the clipped value is constant in V
    close(value_loss(values.detach(), values_old, returns, ALL).loss, [[0.5, 0.5, 0.0]])


def test_loss_arguments_are_checked():
    x = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="dual_clip_c"):
        policy_loss(x, x, x, ALL, dual_clip_c=0.5)
    with pytest.raises(ValueError, match="clip_eps_low"):
        policy_loss(x, x, x, ALL, clip_eps_low=1.0)
    with pytest.raises(ValueError, match="value_clip"):
        value_loss(x, x, x, ALL, value_clip=0.0)
    with pytest.raises(ValueError, match="choose one of"):
        aggregate(x, ALL, "mean")
    with pytest.raises(ValueError, match="global_token_count"):
        aggregate(x, ALL, global_token_count=0)


def test_aggregation_modes_by_hand():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, float("nan")], [9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 0]])  # the last row has no response token
    close(aggregate(loss, mask, "token_mean"), 15 / 5)
    close(aggregate(loss, mask, "seq_mean_token_mean"), (2.0 + 4.5) / 2)
    close(aggregate(loss, mask, "seq_mean_token_sum"), (6.0 + 9.0) / 2)


@pytest.mark.parametrize("mode", AGGREGATION_MODES)
def test_shard_results_add_up_to_the_global_reduction(mode):
    torch.manual_seed(0)
    weights = torch.randn(8, 6, requires_grad=True)
    lengths = torch.tensor([6, 1, 3, 5, 2, 6, 4, 3])
    mask = torch.arange(6)[None, :] < lengths[:, None]
    global_loss = aggregate(weights.square(), mask, mode)
    global_grad, = torch.autograd.grad(global_loss, weights)
    counts = {"global_token_count": int(mask.sum()), "global_sequence_count": 8}
    shard_losses = [aggregate(weights[rows].square(), mask[rows], mode, **counts)
                    for rows in (slice(0, 3), slice(3, 6), slice(6, 8))]
    total = torch.stack(shard_losses).sum()
    close(total, global_loss.detach())
    shard_grad, = torch.autograd.grad(total, weights)  # gradient accumulation over shards
    close(shard_grad, global_grad)
    # without the global counts a shard divides by its own count: the shard sum is then not the global value
    local = sum(aggregate(weights[rows].square(), mask[rows], mode) for rows in (slice(0, 3), slice(3, 8)))
    assert not torch.isclose(local, global_loss)


def test_a_huge_log_ratio_is_clamped_before_exp():
    """A log-ratio past ±20 (a stale or corrupted old log-prob) would make exp overflow to inf, and a token
    with zero advantage then gives 0 * inf = NaN; clamped, loss and gradient stay finite."""
    logprobs = torch.tensor([[100.0, -100.0, 100.0]], requires_grad=True)
    out = policy_loss(logprobs, torch.zeros(1, 3), torch.tensor([[0.0, -1.0, -1.0]]), ALL)
    assert torch.isfinite(out.loss).all() and torch.isfinite(out.ratio).all()
    close(out.ratio, [[math.exp(20), math.exp(-20), math.exp(20)]], atol=1.0)
    close(out.loss, [[0.0, 0.8, math.exp(20)]], atol=1.0)
    out.loss.sum().backward()
    assert torch.isfinite(logprobs.grad).all()
