"""The teacher's reward from per-token log-probabilities (pure torch).

For one explanation, with ``s`` the frozen student and ``t`` the teacher, both at the reward
temperature::

    r_SS = mean_i log s(sol_i | question, explanation, sol_<i) + alpha * min_i (same)
    r_KL = mean_j d_j + alpha * max_j d_j,   d_j = log t(e_j | question, solution, e_<j)
                                                    - log s(e_j | question, e_<j)
    r    = r_SS - kl_weight * r_KL + format_penalty * [explanation tag not closed]

Every tensor is ``(B, T)`` over one shared token axis (the student's label positions);
``solution_mask`` selects the solution tokens and ``explanation_mask`` the explanation tokens.
Positions outside a mask never affect a result; a row whose mask is empty reduces to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from train.algorithms.logprobs import masked_mean

EXTREMES = {"min": torch.amin, "max": torch.amax}


def mean_plus_extreme(x: torch.Tensor, mask: torch.Tensor, alpha: float, extreme: str) -> torch.Tensor:
    """Per row ``mean(x) + alpha * extreme(x)`` over masked positions: ``(B, T)`` -> ``(B,)``.

    ``extreme`` is ``"min"`` or ``"max"``; rows without a masked position give 0.
    """
    if extreme not in EXTREMES:
        raise ValueError(f"extreme must be one of {sorted(EXTREMES)}, got {extreme!r}")
    mask = mask.bool()
    fill = torch.inf if extreme == "min" else -torch.inf
    ends = EXTREMES[extreme](torch.where(mask, x, torch.full_like(x, fill)), dim=-1)
    has_any = mask.any(-1)
    ends = torch.where(has_any, ends, torch.zeros_like(ends))
    return masked_mean(x, mask, dim=-1) + alpha * ends


def solution_score(student_logprobs: torch.Tensor, solution_mask: torch.Tensor, alpha: float) -> torch.Tensor:
    """r_SS ``(B,)``: the student's log-likelihood of the solution tokens, mean + alpha * min."""
    return mean_plus_extreme(student_logprobs, solution_mask, alpha, "min")


def explanation_kl(teacher_logprobs: torch.Tensor, student_logprobs: torch.Tensor, explanation_mask: torch.Tensor,
                   alpha: float) -> torch.Tensor:
    """r_KL ``(B,)``: teacher minus student log-prob of each explanation token, mean + alpha * max."""
    return mean_plus_extreme(teacher_logprobs - student_logprobs, explanation_mask, alpha, "max")


@dataclass
class TeacherReward:
    """The reward and its terms, each ``(B,)``."""

    total: torch.Tensor
    r_ss: torch.Tensor
    r_kl: torch.Tensor
    format_ok: torch.Tensor

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {"reward/total": self.total, "reward/r_ss": self.r_ss, "reward/r_kl": self.r_kl,
                "reward/format_ok": self.format_ok.float()}


def teacher_reward(student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor, solution_mask: torch.Tensor,
                   explanation_mask: torch.Tensor, format_ok: torch.Tensor, *, alpha: float, kl_weight: float,
                   format_penalty: float) -> TeacherReward:
    """``r_SS - kl_weight * r_KL + format_penalty * (1 - format_ok)``; ``format_ok`` ``(B,)`` bool."""
    r_ss = solution_score(student_logprobs, solution_mask, alpha)
    r_kl = explanation_kl(teacher_logprobs, student_logprobs, explanation_mask, alpha)
    penalty = torch.where(format_ok.bool(), 0.0, format_penalty)
    return TeacherReward(r_ss - kl_weight * r_kl + penalty, r_ss, r_kl, format_ok.bool())
