"""Per-token PPO losses and their reduction, kept apart.

``policy_loss`` and ``value_loss`` return per-token losses ``(B, T)`` (0 on padding, and
padding never feeds a gradient) with per-token diagnostics; ``aggregate`` reduces a
per-token tensor to a scalar. Data-parallel shards (or gradient-accumulation micro-batches)
pass the global token or sequence count so that their results add up to the global
reduction. The entropy of the policy is ``train.algorithms.logprobs.entropy_from_logits``;
a KL loss term is ``aggregate(kl_estimate(name, logprobs, logprobs_ref), mask)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from train.algorithms.kl import kl_k3
from train.algorithms.logprobs import masked_mean, masked_sum

AGGREGATION_MODES = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum")
MAX_LOG_RATIO = 20.0  # |log(pi / pi_old)| is clamped here before exp (as verl does): e^20 ≈ 4.9e8 stays finite


@dataclass
class PolicyLossOutput:
    """Per-token clipped policy loss and its diagnostics, all ``(B, T)``."""

    loss: torch.Tensor  # differentiable, 0 on padding
    ratio: torch.Tensor  # pi / pi_old, detached
    clipped: torch.Tensor  # bool: the ratio clip is active (no gradient from this token)
    dual_clipped: torch.Tensor  # bool: the dual clip is active
    approx_kl: torch.Tensor  # k3 estimate of KL(pi_old || pi), detached

    def stats(self, mask: torch.Tensor) -> dict[str, float]:
        """Token means over ``mask``: clip fraction, dual-clip fraction, approx KL, mean ratio."""
        return {name: masked_mean(value.float(), mask).item() for name, value in
                (("clip_frac", self.clipped), ("dual_clip_frac", self.dual_clipped),
                 ("approx_kl", self.approx_kl), ("ratio_mean", self.ratio))}


@dataclass
class ValueLossOutput:
    """Per-token clipped value loss and where the clip is active, both ``(B, T)``."""

    loss: torch.Tensor  # differentiable, 0 on padding
    clipped: torch.Tensor  # bool: the clipped error was the larger one

    def stats(self, mask: torch.Tensor) -> dict[str, float]:
        """Token mean over ``mask`` of the value clip fraction."""
        return {"value_clip_frac": masked_mean(self.clipped.float(), mask).item()}


def policy_loss(logprobs: torch.Tensor, logprobs_old: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                clip_eps_low: float = 0.2, clip_eps_high: float = 0.2,
                dual_clip_c: float | None = None) -> PolicyLossOutput:
    """PPO clipped surrogate per token: ``max(-A * ratio, -A * clip(ratio, 1 - clip_eps_low, 1 + clip_eps_high))``.

    With ``dual_clip_c`` (> 1), tokens with ``A < 0`` are further capped at ``-A * dual_clip_c``
    (dual-clip PPO), so a huge ratio on a bad token cannot blow up the loss.
    The log-ratio is clamped to ``±MAX_LOG_RATIO`` before ``exp``: a token whose probability moved by
    more (or a stale ``logprobs_old``) would otherwise give an infinite ratio, and ``0 * inf`` (a token
    with zero advantage) a NaN loss and gradient.
    All inputs ``(B, T)``; ``logprobs`` carries the gradient, the others are constants.
    """
    if clip_eps_low < 0 or clip_eps_high < 0 or clip_eps_low >= 1:
        raise ValueError(f"need 0 <= clip_eps_low < 1 and clip_eps_high >= 0, got {clip_eps_low}, {clip_eps_high}")
    if dual_clip_c is not None and dual_clip_c <= 1:
        raise ValueError(f"dual_clip_c must be > 1 (or None to turn dual clip off), got {dual_clip_c}")
    mask = mask.bool()
    advantages = torch.where(mask, advantages.detach(), 0.0)
    log_ratio = torch.where(mask, logprobs - logprobs_old.detach(), 0.0).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_eps_low, 1 + clip_eps_high)
    loss = torch.maximum(unclipped, clipped)
    is_clipped = (clipped > unclipped) & mask
    is_dual_clipped = torch.zeros_like(is_clipped)
    if dual_clip_c is not None:
        cap = -advantages * dual_clip_c
        is_dual_clipped = (advantages < 0) & (loss > cap) & mask
        loss = torch.where(is_dual_clipped, cap, loss)
    return PolicyLossOutput(loss=torch.where(mask, loss, 0.0), ratio=ratio.detach(), clipped=is_clipped,
                            dual_clipped=is_dual_clipped,
                            approx_kl=torch.where(mask, kl_k3(logprobs_old, logprobs).detach(), 0.0))


def value_loss(values: torch.Tensor, values_old: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               value_clip: float | None = None) -> ValueLossOutput:
    """Per-token ``0.5 * (V - R)**2``; with ``value_clip``, ``0.5 * max((V - R)**2, (V_clip - R)**2)``
    where ``V_clip = values_old + clip(values - values_old, -value_clip, value_clip)``. Inputs ``(B, T)``.
    """
    if value_clip is not None and value_clip <= 0:
        raise ValueError(f"value_clip must be > 0 (or None to turn it off), got {value_clip}")
    mask = mask.bool()
    values = torch.where(mask, values, 0.0)
    returns = torch.where(mask, returns.detach(), 0.0)
    error = (values - returns).square()
    is_clipped = torch.zeros_like(mask)
    if value_clip is not None:
        values_old = torch.where(mask, values_old.detach(), 0.0)
        values_clipped = values_old + torch.clamp(values - values_old, -value_clip, value_clip)
        error_clipped = (values_clipped - returns).square()
        is_clipped = (error_clipped > error) & mask
        error = torch.maximum(error, error_clipped)
    return ValueLossOutput(loss=torch.where(mask, 0.5 * error, 0.0), clipped=is_clipped)


def aggregate(loss: torch.Tensor, mask: torch.Tensor, mode: str = "token_mean",
              global_token_count: int | None = None, global_sequence_count: int | None = None) -> torch.Tensor:
    """Reduce a per-token ``loss`` ``(B, T)`` over ``mask`` to a scalar.

    - ``token_mean``: sum over all response tokens / token count.
    - ``seq_mean_token_mean``: mean over sequences of each sequence's token mean.
    - ``seq_mean_token_sum``: mean over sequences of each sequence's token sum.

    The count divided by is this batch's (response tokens, or sequences with at least one
    response token) unless ``global_token_count`` / ``global_sequence_count`` is given: a shard
    of a larger batch that passes the whole batch's count returns its share, and the shards'
    results sum to the whole batch's reduction.
    """
    if mode not in AGGREGATION_MODES:
        raise ValueError(f"unknown aggregation mode {mode!r}; choose one of {AGGREGATION_MODES}")
    mask = mask.bool()
    if mode == "token_mean":
        return masked_sum(loss, mask) / _count(global_token_count, mask.sum(), "global_token_count")
    tokens_per_sequence = mask.sum(-1)
    sequence_sums = masked_sum(loss, mask, dim=-1)
    if mode == "seq_mean_token_mean":
        sequence_sums = sequence_sums / tokens_per_sequence.clamp(min=1)
    return sequence_sums.sum() / _count(global_sequence_count, (tokens_per_sequence > 0).sum(), "global_sequence_count")


def _count(given: int | None, local: torch.Tensor, name: str):
    """The divisor of ``aggregate``: ``given`` (checked > 0) or the local count (at least 1)."""
    if given is None:
        return local.clamp(min=1)
    if given <= 0:
        raise ValueError(f"{name} must be > 0, got {given}")
    return given
