"""Satori's reward shaping, one term at a time, in plain Python (no torch).

The paper's reward for one trajectory::

    r = sigma(normalised outcome-RM score) + (1[correct] - 1) + bonus_scale * c

with ``c = +1`` when a restart from an incorrect prefix (``reflect_status == -1``) ends correct
and ``c = -1`` when a restart from a correct prefix (``reflect_status == +1``) ends incorrect.
An optional DAPO-style overlong penalty and an optional verified-steps term
(``step_scale * (share of the response's arithmetic claims that hold - 1)``, see
``satori.claims``; ``-step_scale`` for a response that makes no claim) are added on top.
``train.rl.reward`` registers these as the PPO loop's reward terms, logs each and sums them.

"Correct" means the grader's status is ``correct``; incorrect, unparseable and timed-out
answers all count as not correct.
"""

from __future__ import annotations

import math

REFLECT_STATUSES = (-1, 0, 1)  # restart from an incorrect prefix, plain problem, restart from a correct prefix


def correctness_reward(correct: bool) -> float:
    """Satori's shaping of the verdict: 0.0 when correct, -1.0 otherwise."""
    return 0.0 if correct else -1.0


def reflection_bonus(correct: bool, reflect_status: int, scale: float = 0.5) -> float:
    """RAE bonus: ``+scale`` for repairing an incorrect prefix, ``-scale`` for breaking a correct one, else 0."""
    if reflect_status not in REFLECT_STATUSES:
        raise ValueError(f"reflect_status must be one of {REFLECT_STATUSES}, got {reflect_status!r}")
    if reflect_status == -1 and correct:
        return scale
    if reflect_status == 1 and not correct:
        return -scale
    return 0.0


def orm_bonus(score: float, mean: float, std: float, eps: float = 1e-6) -> float:
    """``sigmoid((score - mean) / std)``: an outcome reward model's score squashed into (0, 1)."""
    z = (score - mean) / max(std, eps)
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def overlong_penalty(length: int, max_len: int, buffer: int, penalty: float = 1.0) -> float:
    """DAPO soft overlong penalty: 0 up to ``max_len - buffer`` tokens, then falling linearly
    to ``-penalty`` at ``max_len``, and ``-penalty`` beyond.
    """
    if not 0 < buffer <= max_len:
        raise ValueError(f"overlong buffer must be in (0, max_len={max_len}], got {buffer}")
    excess = length - (max_len - buffer)
    if excess <= 0:
        return 0.0
    return -penalty * min(excess / buffer, 1.0)


def step_reward(claim_share: float | None, scale: float) -> float:
    """``scale * (claim_share - 1)``: 0 when every claim holds, ``-scale`` when none holds or none is
    made (so dropping the arithmetic never pays)."""
    if scale < 0:
        raise ValueError(f"step_scale must be >= 0, got {scale}")
    return scale * ((claim_share or 0.0) - 1.0)
