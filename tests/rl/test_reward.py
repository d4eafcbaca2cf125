"""The PPO loop's reward terms on hand-built graded samples (pure Python, no Ray)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from train.rl.config import RewardConfig
from satori.orm import RunningNorm
from train.rl.reward import TERMS, Graded, orm_values, reward_terms

KEYS = ["reward/correctness", "reward/reflection", "reward/orm", "reward/overlong", "reward/steps", "reward/total"]
# every optional term on: the restart bonus, the overlong penalty over the last 20 of 100 tokens, verified steps
ON = RewardConfig(bonus_scale=0.5, overlong_buffer=20, overlong_penalty=1.0, step_scale=0.5)


def terms(sample: Graded, reward: RewardConfig = ON) -> dict[str, float]:
    out = reward_terms(sample, reward)
    assert list(out) == KEYS  # the metric names, in the order they were always logged
    return {key.removeprefix("reward/"): value for key, value in out.items()}


def test_correct_plain_sample():
    assert terms(Graded(True, 0, length=40, max_len=100, claim_share=1.0)) == {
        "correctness": 0.0, "reflection": 0.0, "orm": 0.0, "overlong": 0.0, "steps": 0.0, "total": 0.0}


def test_incorrect_plain_sample_with_half_its_claims_false():
    assert terms(Graded(False, 0, length=40, max_len=100, claim_share=0.5)) == {
        "correctness": -1.0, "reflection": 0.0, "orm": 0.0, "overlong": 0.0, "steps": -0.25, "total": -1.25}


def test_restarts_repairing_an_incorrect_prefix_and_breaking_a_correct_one():
    repaired = terms(Graded(True, -1, length=40, max_len=100, claim_share=1.0))
    assert repaired["reflection"] == 0.5 and repaired["total"] == 0.5
    kept_wrong = terms(Graded(False, -1, length=40, max_len=100, claim_share=1.0))
    assert kept_wrong["reflection"] == 0.0 and kept_wrong["total"] == -1.0
    broken = terms(Graded(False, 1, length=40, max_len=100, claim_share=1.0))
    assert broken["reflection"] == -0.5 and broken["total"] == -1.5


@pytest.mark.parametrize("length, overlong", [(80, 0.0), (90, -0.5), (100, -1.0)])
def test_overlong_and_truncated_samples(length, overlong):
    out = terms(Graded(True, 0, length=length, max_len=100, claim_share=None))  # no claim: steps -0.5
    assert out["overlong"] == overlong and out["steps"] == -0.5 and out["total"] == overlong - 0.5


def test_claim_credit_is_no_per_sample_term():
    sample = Graded(False, 1, length=90, max_len=100, claim_share=0.25)
    with_credit = terms(sample, dataclasses.replace(ON, claim_credit=1.0))
    assert with_credit == terms(sample) == {"correctness": -1.0, "reflection": -0.5, "orm": 0.0, "overlong": -0.5,
                                            "steps": -0.375, "total": -2.375}


def test_terms_are_off_unless_their_setting_is_set():
    sample = Graded(False, 1, length=100, max_len=100, claim_share=0.0)
    assert terms(sample, RewardConfig(bonus_scale=0.0)) == {
        "correctness": -1.0, "reflection": 0.0, "orm": 0.0, "overlong": 0.0, "steps": 0.0, "total": -1.0}
    assert terms(sample, RewardConfig())["total"] == -1.5  # the restart bonus is on by default


def test_every_term_is_registered_once_under_a_reward_setting():
    names = [term.name for term in TERMS]
    assert len(set(names)) == len(names) and names[0] == "correctness"
    fields = {field.name for field in dataclasses.fields(RewardConfig)}
    assert [term.key for term in TERMS if term.key not in fields] == [None]


def test_the_orm_term_for_known_scores():
    # scores 0, 1, 2, 3 (mean 1.5, population std sqrt(1.25)); the term is orm_scale * sigmoid((s - 1.5) / 1.118)
    norm = RunningNorm()
    values = orm_values([0.0, 1.0, 2.0, 3.0], norm)
    std = math.sqrt(1.25)
    assert values == pytest.approx([1 / (1 + math.exp((1.5 - s) / std)) for s in (0.0, 1.0, 2.0, 3.0)])
    assert values[1] == pytest.approx(0.3900, abs=1e-4) and values[3] == pytest.approx(0.7928, abs=1e-4)
    reward = RewardConfig(bonus_scale=0.0, orm="runs/orm", orm_scale=0.5)
    out = terms(Graded(False, orm=values[3]), reward)
    assert out["orm"] == pytest.approx(0.5 * 0.7928, abs=1e-4) and out["total"] == pytest.approx(-1 + 0.5 * 0.7928, abs=1e-4)
    assert terms(Graded(True, orm=0.9), RewardConfig(bonus_scale=0.0))["orm"] == 0.0   # off without reward.orm


def test_the_running_normalisation_carries_over_batches():
    norm = RunningNorm()
    orm_values([0.0, 2.0], norm)                                  # mean 1, std 1
    assert orm_values([1.0, 1.0], norm) == pytest.approx([0.5, 0.5])   # mean stays 1: sigmoid(0)
    later = orm_values([4.0], norm)[0]                            # five scores 0,2,1,1,4: mean 1.6, std 1.3565
    assert later == pytest.approx(1 / (1 + math.exp(-(4.0 - 1.6) / math.sqrt(9.2 / 5))))


def test_an_orm_term_without_a_score_is_refused():
    with pytest.raises(ValueError, match="no ORM score"):
        reward_terms(Graded(True), RewardConfig(orm="runs/orm"))
