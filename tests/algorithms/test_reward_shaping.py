"""Satori reward terms: tables of verdicts, RAE statuses, ORM scores and lengths."""

import math

import pytest

from satori.rewards import correctness_reward, orm_bonus, overlong_penalty, reflection_bonus, step_reward


@pytest.mark.parametrize("correct, expected", [(True, 0.0), (False, -1.0)])
def test_correctness_reward(correct, expected):
    assert correctness_reward(correct) == expected


@pytest.mark.parametrize("correct, reflect_status, expected", [
    (True, -1, 0.5),    # repaired an incorrect prefix
    (False, -1, 0.0),   # failed to repair: no bonus, the correctness term already says -1
    (True, 1, 0.0),     # kept a correct prefix correct
    (False, 1, -0.5),   # broke a correct prefix
    (True, 0, 0.0),     # plain problem
    (False, 0, 0.0),
])
def test_reflection_bonus_table(correct, reflect_status, expected):
    assert reflection_bonus(correct, reflect_status) == expected


def test_reflection_bonus_scale_and_bad_status():
    assert reflection_bonus(True, -1, scale=1.0) == 1.0
    with pytest.raises(ValueError, match="reflect_status"):
        reflection_bonus(True, 2)


@pytest.mark.parametrize("score, expected", [
    (3.0, 0.5), (5.0, 1 / (1 + math.exp(-1))), (1.0, 1 / (1 + math.exp(1))), (-1e6, 0.0), (1e6, 1.0),
])
def test_orm_bonus_is_sigmoid_of_normalised_score(score, expected):
    assert orm_bonus(score, mean=3.0, std=2.0) == pytest.approx(expected)


def test_orm_bonus_with_zero_std_does_not_divide_by_zero():
    assert orm_bonus(1.0, 1.0, 0.0) == 0.5
    assert orm_bonus(2.0, 1.0, 0.0) == pytest.approx(1.0)


@pytest.mark.parametrize("length, expected", [(50, 0.0), (80, 0.0), (85, -0.25), (90, -0.5), (100, -1.0), (130, -1.0)])
def test_overlong_penalty_table(length, expected):
    assert overlong_penalty(length, max_len=100, buffer=20, penalty=1.0) == pytest.approx(expected)


def test_overlong_penalty_checks_its_buffer():
    assert overlong_penalty(90, 100, 20, penalty=0.5) == pytest.approx(-0.25)
    for buffer in (0, 101):
        with pytest.raises(ValueError, match="buffer"):
            overlong_penalty(90, 100, buffer)


@pytest.mark.parametrize("share, scale, expected", [
    (1.0, 1.0, 0.0), (0.0, 1.0, -1.0), (0.25, 2.0, -1.5), (None, 1.0, -1.0), (0.0, 0.0, 0.0)])
def test_step_reward_table(share, scale, expected):
    assert step_reward(share, scale) == expected


def test_step_reward_rejects_a_negative_scale():
    with pytest.raises(ValueError, match="step_scale"):
        step_reward(0.5, -1.0)
