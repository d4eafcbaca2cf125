"""Turning scored rollouts into the PPO batch: padding, masks, token rewards and advantages.

Every per-token tensor is aligned with ``labels = input_ids[:, 1:]``: position ``t`` holds
the quantity for predicting token ``t + 1``. Shapes: ``B`` sequences, ``L`` padded length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from train.algorithms.advantages import compute_advantages, place_on_last_token, zero_advantage_group_share
from train.algorithms.kl import apply_kl_penalty, kl_estimate
from train.algorithms.logprobs import explained_variance, masked_mean, masked_whiten
from train.rl.config import AlgoConfig


@dataclass
class Sample:
    """One response to one prompt, with its scalar reward."""

    prompt_ids: list[int]
    response_ids: list[int]
    rollout_logprobs: list[float]
    reward: float
    group: int            # samples of the same prompt share a group
    reflect_status: int = 0
    credit: list[float] | None = None   # per response token, added to its advantage (train.rl.credit)


def varied(group: list[Sample]) -> bool:
    """Whether the samples of one prompt got different rewards (a group of equal rewards has no group signal)."""
    return len({s.reward for s in group}) > 1


def select_groups(groups: list[list[Sample]], want: int) -> list[list[Sample]]:
    """DAPO dynamic sampling: the first ``want`` groups with ``varied`` rewards, topped up (when fewer
    vary) with the first groups of equal rewards, in their original order; all groups when fewer than ``want``.
    """
    chosen = [i for i, g in enumerate(groups) if varied(g)] + [i for i, g in enumerate(groups) if not varied(g)]
    return [groups[i] for i in sorted(chosen[:want])]


def round_size(missing: int, varied_share: float | None) -> int:
    """Prompts to draw for ``missing`` groups with varied rewards, given the share of varied groups the last
    step saw (``None``: nothing seen yet, draw ``missing``): ``missing / varied_share``, at most ``2 * missing``.

    Dynamic sampling then fills most steps in one generation round, whose larger batch costs far less than a
    second round decoded after it.
    """
    if varied_share is None:
        return missing
    return min(2 * missing, math.ceil(missing / varied_share)) if varied_share > 0 else 2 * missing


def collate(samples: list[Sample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors: ``input_ids``/``attention_mask`` ``(B, L)``; ``labels``, ``action_mask``,
    ``rollout_logprobs``, ``token_credit`` ``(B, L-1)``; ``scores``, ``group_ids``, ``reflect_status`` ``(B,)``.
    """
    width = max(len(s.prompt_ids) + len(s.response_ids) for s in samples)
    batch_size = len(samples)
    input_ids = torch.full((batch_size, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch_size, width), dtype=torch.long)
    action_mask = torch.zeros((batch_size, width - 1), dtype=torch.bool)
    rollout_logprobs = torch.zeros((batch_size, width - 1), dtype=torch.float32)
    token_credit = torch.zeros((batch_size, width - 1), dtype=torch.float32)
    for row, s in enumerate(samples):
        sequence = s.prompt_ids + s.response_ids
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
        start, end = len(s.prompt_ids) - 1, len(sequence) - 1
        action_mask[row, start:end] = True
        rollout_logprobs[row, start:end] = torch.tensor(s.rollout_logprobs, dtype=torch.float32)
        if s.credit is not None:
            token_credit[row, start:end] = torch.tensor(s.credit, dtype=torch.float32)
    return {
        "input_ids": input_ids, "attention_mask": attention_mask, "labels": input_ids[:, 1:].clone(),
        "action_mask": action_mask, "rollout_logprobs": rollout_logprobs,
        "token_credit": token_credit,
        "scores": torch.tensor([s.reward for s in samples], dtype=torch.float32),
        "group_ids": torch.tensor([s.group for s in samples], dtype=torch.long),
        "reflect_status": torch.tensor([s.reflect_status for s in samples], dtype=torch.long),
    }


def add_advantages(batch: dict[str, torch.Tensor], algo: AlgoConfig) -> dict[str, float]:
    """Add ``token_rewards``, ``advantages`` and ``returns`` ``(B, L-1)`` to ``batch``; return diagnostics.

    The estimator's advantages (whitened when ``algo.whiten``) plus ``token_credit``.

    Uses ``logprobs_ref`` when ``algo.kl_coef > 0`` and ``values_old`` for GAE (both with
    ``logprobs_old``); without ``logprobs_old`` the learner measures the log-prob mismatch itself.
    """
    mask = batch["action_mask"]
    token_rewards = place_on_last_token(batch["scores"], mask)
    metrics: dict[str, float] = {}
    if "logprobs_ref" in batch:
        kl = kl_estimate(algo.kl_estimator, batch["logprobs_old"], batch["logprobs_ref"])
        metrics["rollout/kl_to_ref"] = masked_mean(kl, mask).item()
        if algo.kl_mode == "reward" and algo.kl_coef > 0:
            token_rewards = apply_kl_penalty(token_rewards, kl, algo.kl_coef, mask)
    advantages, returns = compute_advantages(
        algo.advantage, token_rewards, mask, values=batch.get("values_old"), group_ids=batch["group_ids"],
        gamma=algo.gamma, gae_lambda=algo.gae_lambda)
    metrics["rollout/zero_advantage_group_share"] = zero_advantage_group_share(advantages, mask, batch["group_ids"])
    if algo.whiten:
        advantages = masked_whiten(advantages, mask)
    advantages = advantages + torch.where(mask, batch["token_credit"], 0.0)
    batch.update(token_rewards=token_rewards, advantages=advantages, returns=returns)
    if "logprobs_old" in batch:
        metrics["rollout/logprob_mismatch"] = logprob_mismatch(batch["logprobs_old"], batch["rollout_logprobs"], mask)
    if "values_old" in batch:
        metrics["critic/explained_variance"] = explained_variance(batch["values_old"], returns, mask).item()
        metrics["critic/value_mean"] = masked_mean(batch["values_old"], mask).item()
    return metrics


def logprob_mismatch(logprobs: torch.Tensor, rollout_logprobs: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean ``|learner log-prob - rollout engine log-prob|`` over response tokens, all ``(B, L-1)``."""
    return masked_mean((logprobs - rollout_logprobs).abs(), mask).item()


def select(batch: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    """The rows ``index`` of every tensor in ``batch``."""
    return {key: value[index] for key, value in batch.items()}
