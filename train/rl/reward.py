"""A sample's reward: the registered terms (``TERMS``), each logged as ``reward/<name>``, and their sum.

A term is on when its ``RewardConfig`` setting (``key``) is set, neither None nor 0, and is 0 otherwise
(``correctness`` is always on); its rule is in ``satori.rewards``. The per-token claim credit
(``reward.claim_credit``) is centred over the batch, not a per-sample term: see ``train.rl.credit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from satori.orm import RunningNorm
from satori.rewards import correctness_reward, orm_bonus, overlong_penalty, reflection_bonus, step_reward
from train.rl.config import RewardConfig


@dataclass(frozen=True)
class Graded:
    """What the reward terms read from one graded sample."""

    correct: bool
    reflect_status: int = 0             # -1 / 0 / +1: restart from an incorrect prefix, plain, from a correct one
    length: int = 0                     # response tokens
    max_len: int = 0                    # the response token budget (``rollout.max_new_tokens``)
    claim_share: float | None = None    # ``satori.claims.claim_share`` of the response (None: no claim)
    orm: float | None = None            # sigma((s - mu) / sigma_s) of its ORM score s (``orm_values``; None: no ORM)


@dataclass(frozen=True)
class Term:
    """One reward term: logged as ``reward/<name>``, on when ``RewardConfig.<key>`` is set (``key`` None: always)."""

    name: str
    key: str | None
    value: Callable[[Graded, RewardConfig], float]

    def __call__(self, sample: Graded, reward: RewardConfig) -> float:
        return self.value(sample, reward) if self.key is None or getattr(reward, self.key) else 0.0


def orm_values(scores: list[float], norm: RunningNorm) -> list[float]:
    """``sigma((s - mu) / sigma_s)`` of each ORM score ``s``, with ``mu``, ``sigma_s`` the running mean and
    standard deviation of every score so far, this batch's included (``norm`` is updated first)."""
    norm.update(scores)
    return [orm_bonus(score, norm.mean, norm.std) for score in scores]


def _orm(sample: Graded, reward: RewardConfig) -> float:
    """``orm_scale * sample.orm``; a sample scored by no reward model is refused (the term is on)."""
    if sample.orm is None:
        raise ValueError("reward.orm is set but the sample has no ORM score (Graded.orm)")
    return reward.orm_scale * sample.orm


TERMS = (
    Term("correctness", None, lambda s, r: correctness_reward(s.correct)),
    Term("reflection", "bonus_scale", lambda s, r: reflection_bonus(s.correct, s.reflect_status, r.bonus_scale)),
    Term("orm", "orm", _orm),
    Term("overlong", "overlong_buffer",
         lambda s, r: overlong_penalty(s.length, s.max_len, r.overlong_buffer, r.overlong_penalty)),
    Term("steps", "step_scale", lambda s, r: step_reward(s.claim_share, r.step_scale)),
)


def reward_terms(sample: Graded, reward: RewardConfig) -> dict[str, float]:
    """Every term of ``sample``'s reward as ``reward/<name>``, and their sum as ``reward/total``."""
    terms = {f"reward/{term.name}": term(sample, reward) for term in TERMS}
    return {**terms, "reward/total": sum(terms.values())}
