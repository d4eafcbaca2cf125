"""The PPO loop's reward terms on hand-built graded samples (pure Python, no Ray)."""

from __future__ import annotations

import dataclasses

import pytest

from satori.config import ConfigError, load_config
from train.rl.config import RewardConfig, RLConfig
from train.rl.reward import TERMS, Graded, reward_terms

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


def test_the_orm_term_is_refused_until_it_is_wired():
    with pytest.raises(ConfigError, match="key 'reward.orm'"):
        load_config(RLConfig, None, ["reward.orm=runs/orm"])
    with pytest.raises(NotImplementedError, match="reward.orm"):
        reward_terms(Graded(True), RewardConfig(orm="runs/orm"))
