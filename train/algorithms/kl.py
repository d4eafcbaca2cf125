"""Per-token estimators of KL(pi || pi_ref) from log-probs of tokens sampled from pi.

With ``delta = logprobs - logprobs_ref`` (``log pi(y) - log pi_ref(y)``, y ~ pi):

- ``k1 = delta``: unbiased, high variance, can be negative.
- ``k2 = delta**2 / 2``: biased (low for small KL), never negative.
- ``k3 = exp(-delta) - 1 + delta``: unbiased and never negative (Schulman's estimator).

As a reward penalty (``apply_kl_penalty``) the estimate is a detached number. As a loss
term it is differentiated through ``logprobs``; then, per token, ``d k1/d logprobs = 1``,
``d k2/d logprobs = delta`` and ``d k3/d logprobs = 1 - exp(-delta)``. Averaged over
y ~ pi, the k1 loss gradient is zero, k2's is the gradient of KL(pi || pi_ref) and k3's is the
gradient of KL(pi_ref || pi); at pi = pi_ref, k2's and k3's per-token gradients are zero
and they agree to first order in ``delta`` near it (see tests/algorithms/test_kl.py).
"""

from __future__ import annotations

import torch


def kl_k1(logprobs: torch.Tensor, logprobs_ref: torch.Tensor) -> torch.Tensor:
    """``log pi - log pi_ref`` per token: ``(B, T), (B, T) -> (B, T)``."""
    return logprobs - logprobs_ref


def kl_k2(logprobs: torch.Tensor, logprobs_ref: torch.Tensor) -> torch.Tensor:
    """``(log pi - log pi_ref)**2 / 2`` per token: ``(B, T), (B, T) -> (B, T)``."""
    return 0.5 * (logprobs - logprobs_ref).square()


def kl_k3(logprobs: torch.Tensor, logprobs_ref: torch.Tensor) -> torch.Tensor:
    """``pi_ref/pi - 1 - log(pi_ref/pi)`` per token: ``(B, T), (B, T) -> (B, T)``."""
    log_ratio_ref = logprobs_ref - logprobs
    return torch.expm1(log_ratio_ref) - log_ratio_ref


KL_ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


def kl_estimate(name: str, logprobs: torch.Tensor, logprobs_ref: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate ``(B, T)`` by estimator name (a key of ``KL_ESTIMATORS``)."""
    if name not in KL_ESTIMATORS:
        raise ValueError(f"unknown KL estimator {name!r}; choose one of {sorted(KL_ESTIMATORS)}")
    return KL_ESTIMATORS[name](logprobs, logprobs_ref)


def apply_kl_penalty(rewards: torch.Tensor, kl: torch.Tensor, kl_coef: float,
                     mask: torch.Tensor) -> torch.Tensor:
    """Token rewards minus ``kl_coef * kl`` on response tokens: ``(B, T)`` -> ``(B, T)``, no gradient.

    Padding positions keep their reward (normally 0); the KL there is ignored.
    """
    penalty = torch.where(mask.bool(), kl_coef * kl.detach(), torch.zeros_like(rewards))
    return rewards - penalty
