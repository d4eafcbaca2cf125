"""Reward-model losses, ranking metrics and the running normalisation, on hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eval.rerank import best_of_n, pairwise_accuracy, roc_auc, weighted_vote
from satori.orm import RunningNorm
from train.algorithms.reward_losses import RM_LOSSES, bradley_terry_loss, pointwise_bce_loss


def test_bradley_terry_loss_on_two_pairs():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(1.0))) / 2
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-6)
    assert RM_LOSSES["bt"] is bradley_terry_loss


def test_pointwise_bce_on_two_points():
    scores, labels = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    expected = (math.log(2.0) + math.log(1 + math.exp(2.0))) / 2
    assert pointwise_bce_loss(scores, labels).item() == pytest.approx(expected, rel=1e-6)
    assert RM_LOSSES["bce"] is pointwise_bce_loss


def test_bradley_terry_gradient_pushes_the_chosen_score_up():
    chosen, rejected = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    bradley_terry_loss(chosen, rejected).backward()
    assert chosen.grad.item() == pytest.approx(-0.5) and rejected.grad.item() == pytest.approx(0.5)


def test_pairwise_accuracy_counts_within_problem_pairs_and_ties_half():
    problems = [([3.0, 1.0, 2.0], [True, False, False]),   # 2 pairs, both right
                ([1.0, 1.0], [True, False]),               # 1 tie: one half
                ([5.0, 0.0], [False, True]),               # 1 pair, wrong
                ([1.0, 2.0], [True, True])]                # no pair
    assert pairwise_accuracy(problems) == pytest.approx(2.5 / 4)
    assert math.isnan(pairwise_accuracy([([1.0], [True])]))


def test_roc_auc_matches_the_pair_count_definition():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=40).astype(float).tolist()   # many ties
    labels = (rng.random(40) < 0.4).tolist()
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    by_pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(by_pairs)
    assert roc_auc([1.0, 2.0], [False, True]) == 1.0
    assert math.isnan(roc_auc([1.0, 2.0], [True, True]))


def test_best_of_n_and_the_weighted_vote():
    assert best_of_n([0.1, 0.7, 0.7, -1.0]) == 1
    answers = ["3", "4", "4", None, "3"]
    # "4" has two votes but low scores; "3" wins on sigmoid weight: 2 * sigmoid(3) > 2 * sigmoid(-2)
    assert weighted_vote(answers, [3.0, -2.0, -2.0, 9.0, 3.0]) == 0
    assert weighted_vote(answers, [0.0, 0.0, 0.0, 0.0, 0.0]) == 0      # a tie goes to the first group
    assert weighted_vote(answers, [-5.0, 1.0, 1.0, 0.0, -5.0]) == 1
    assert weighted_vote([None, None], [1.0, 2.0]) is None


def test_running_norm_equals_the_statistics_of_everything_seen():
    rng = np.random.default_rng(1)
    batches = [rng.normal(3.0, 2.0, size=n).tolist() for n in (5, 1, 17, 8)]
    norm = RunningNorm()
    assert norm.std == 1.0 and norm.mean == 0.0
    for batch in batches:
        norm.update(batch)
    seen = np.concatenate(batches)
    assert norm.count == len(seen)
    assert norm.mean == pytest.approx(seen.mean()) and norm.std == pytest.approx(seen.std())
    restored = RunningNorm()
    restored.load_state_dict(norm.state_dict())
    assert restored == norm
