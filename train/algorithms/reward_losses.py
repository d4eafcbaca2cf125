"""Losses of an outcome reward model's scalar scores (torch only).

``RM_LOSSES`` maps ``train.loss`` to the loss; each returns a scalar mean over its rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """``mean(-log sigmoid(chosen - rejected))`` over pairs; ``chosen``, ``rejected`` are scores (P,)."""
    return -F.logsigmoid(chosen - rejected).mean()


def pointwise_bce_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of ``sigmoid(scores)`` (N,) against 0/1 ``labels`` (N,), averaged."""
    return F.binary_cross_entropy_with_logits(scores, labels.to(scores.dtype))


RM_LOSSES = {"bt": bradley_terry_loss, "bce": pointwise_bce_loss}
