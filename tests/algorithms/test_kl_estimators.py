"""KL estimators: values, per-token gradients, and exact expectations over a small categorical policy.

Expectations are computed exactly by enumerating a 6-token vocabulary: the "expected loss
gradient" of an estimator k is ``sum_y pi(y) * grad k(log pi(y), log pi_ref(y))`` with the
sampling weights pi(y) held constant (what a PPO step does with sampled tokens).
"""

import math

import pytest
import torch

from train.algorithms.kl import KL_ESTIMATORS, apply_kl_penalty, kl_estimate

VOCAB = 6


def close(actual, expected, atol=1e-6):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=1e-6)


def test_values_by_hand():
    # pi(y) = 0.5, pi_ref(y) = 0.25: delta = log 2
    logprobs, logprobs_ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    delta = math.log(2)
    close(kl_estimate("k1", logprobs, logprobs_ref), [delta])
    close(kl_estimate("k2", logprobs, logprobs_ref), [delta ** 2 / 2])
    close(kl_estimate("k3", logprobs, logprobs_ref), [0.5 - 1 + delta])
    with pytest.raises(ValueError, match="choose one of"):
        kl_estimate("k4", logprobs, logprobs_ref)


def test_per_token_gradients():
    # d k1 = 1, d k2 = delta, d k3 = 1 - exp(-delta), with delta = logprobs - logprobs_ref
    logprobs_ref = torch.tensor([-1.0, -2.0, -0.5], dtype=torch.float64)
    delta = torch.tensor([0.3, -0.7, 0.0], dtype=torch.float64)
    expected = {"k1": torch.ones(3, dtype=torch.float64), "k2": delta, "k3": 1 - torch.exp(-delta)}
    for name, grad in expected.items():
        logprobs = (logprobs_ref + delta).requires_grad_()
        kl_estimate(name, logprobs, logprobs_ref).sum().backward()
        close(logprobs.grad, grad)


def policies(shift):
    """Policy logits (a leaf) and reference log-probs; the policy is the reference moved by ``shift``."""
    generator = torch.Generator().manual_seed(0)
    ref_logits = torch.randn(VOCAB, generator=generator, dtype=torch.float64)
    direction = torch.randn(VOCAB, generator=generator, dtype=torch.float64)
    logits = (ref_logits + shift * direction).requires_grad_()
    return logits, torch.log_softmax(ref_logits, -1)


def expected_loss_gradient(name, shift):
    logits, logprobs_ref = policies(shift)
    logprobs = torch.log_softmax(logits, -1)
    weights = logprobs.exp().detach()
    (weights * kl_estimate(name, logprobs, logprobs_ref)).sum().backward()
    return logits.grad


def exact_kl_gradients(shift):
    """Gradients of KL(pi || pi_ref) and KL(pi_ref || pi) with respect to the policy logits."""
    logits, logprobs_ref = policies(shift)
    logprobs = torch.log_softmax(logits, -1)
    forward_kl = (logprobs.exp() * (logprobs - logprobs_ref)).sum()
    reverse_kl = (logprobs_ref.exp() * (logprobs_ref - logprobs)).sum()
    return torch.autograd.grad(forward_kl, logits, retain_graph=True)[0], torch.autograd.grad(reverse_kl, logits)[0]


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_expected_values_k1_k3_unbiased(shift):
    logits, logprobs_ref = policies(shift)
    logprobs = torch.log_softmax(logits.detach(), -1)
    weights = logprobs.exp()
    exact = (weights * (logprobs - logprobs_ref)).sum()
    for name in ("k1", "k3"):
        close((weights * kl_estimate(name, logprobs, logprobs_ref)).sum(), exact)
    assert (kl_estimate("k3", logprobs, logprobs_ref) >= 0).all()


@pytest.mark.parametrize("shift", [0.3, 1.0])
def test_expected_loss_gradients_off_policy(shift):
    forward_grad, reverse_grad = exact_kl_gradients(shift)
    close(expected_loss_gradient("k1", shift), torch.zeros(VOCAB))  # E[grad log pi] = 0
    close(expected_loss_gradient("k2", shift), forward_grad)  # grad KL(pi || pi_ref)
    close(expected_loss_gradient("k3", shift), reverse_grad)  # grad KL(pi_ref || pi)
    # k1 used as a reward instead: the score-function gradient E[k1 grad log pi] is grad KL(pi || pi_ref) too
    logits, logprobs_ref = policies(shift)
    logprobs = torch.log_softmax(logits, -1)
    k1 = kl_estimate("k1", logprobs, logprobs_ref).detach()
    (logprobs.exp().detach() * k1 * logprobs).sum().backward()
    close(logits.grad, forward_grad)


def test_gradients_agree_on_policy():
    # pi = pi_ref: every estimator's expected loss gradient is the (zero) KL gradient,
    # and k2, k3 give zero gradient token by token
    forward_grad, reverse_grad = exact_kl_gradients(0.0)
    close(forward_grad, torch.zeros(VOCAB))
    close(reverse_grad, torch.zeros(VOCAB))
    for name in KL_ESTIMATORS:
        close(expected_loss_gradient(name, 0.0), torch.zeros(VOCAB))
    logits, logprobs_ref = policies(0.0)
    logprobs = torch.log_softmax(logits, -1)
    for name in ("k2", "k3"):
        grad, = torch.autograd.grad(kl_estimate(name, logprobs, logprobs_ref)[2], logits, retain_graph=True)
        close(grad, torch.zeros(VOCAB))


def test_k2_and_k3_gradients_agree_to_first_order_near_the_reference():
    # 1 - exp(-delta) = delta - delta**2 / 2 + ...: the gap shrinks like shift**2 while the gradient shrinks like shift
    gaps = []
    for shift in (1e-2, 1e-3):
        k2, k3 = expected_loss_gradient("k2", shift), expected_loss_gradient("k3", shift)
        gaps.append((k2 - k3).norm() / k2.norm())
    assert gaps[0] < 0.05 and gaps[1] < gaps[0] / 5


def test_apply_kl_penalty():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    kl = torch.tensor([[0.5, -0.2, 0.1], [0.3, 0.3, float("nan")]], requires_grad=True)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    penalised = apply_kl_penalty(rewards, kl, 0.1, mask)
    close(penalised, [[-0.05, 0.02, 0.99], [-0.03, -1.03, 0.0]])
    assert not penalised.requires_grad
