"""Metric maths: pass@k against brute-force enumeration, maj@k ties, self-correction counts."""

from __future__ import annotations

import itertools
import math

import pytest

from satori.coat import REFLECT, before_first
from satori.grading import extract_answer

from eval import metrics


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (c correct) holding at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert metrics.pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_hand_values_and_stability():
    assert metrics.pass_at_k(4, 1, 2) == pytest.approx(0.5)        # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert metrics.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert metrics.pass_at_k(5, 0, 5) == 0.0
    assert metrics.pass_at_k(5, 1, 5) == 1.0
    # Large n: binomials overflow floats (C(2000, 1000) ~ 1e600) but the product form does not.
    exact = 1 - math.comb(1990, 1000) / math.comb(2000, 1000)
    assert metrics.pass_at_k(2000, 10, 1000) == pytest.approx(exact, rel=1e-9)
    assert metrics.mean_pass_at_k([(4, 1), (4, 4)], 2) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        metrics.pass_at_k(3, 1, 4)


def test_majority_vote_tie_goes_to_the_group_seen_first():
    # "2" and "3" both get two votes; "3" appeared first.
    assert metrics.majority_vote(["3", "2", "2", "3"]) == 0
    assert metrics.majority_vote(["2", "3", "3", "2"]) == 0
    assert metrics.maj_at_k(["3", "2", "2", "3"], [False, True, True, False], k=4) is False
    assert metrics.maj_at_k(["2", "3", "3", "2"], [True, False, False, True], k=4) is True
    # A clear majority wins wherever it starts; missing answers do not vote.
    assert metrics.majority_vote([None, "5", "7", "7", None]) == 2
    assert metrics.majority_vote([None, None]) is None
    assert metrics.maj_at_k([None, None], [False, False], k=2) is False
    # Only the first k samples vote.
    assert metrics.maj_at_k(["1", "1", "9", "9", "9"], [True, True, False, False, False], k=3) is True
    assert metrics.maj_at_k(["1", "1", "9", "9", "9"], [True, True, False, False, False], k=5) is False


def test_majority_vote_groups_spellings_and_equivalent_answers():
    # Normalised strings group "\dfrac{1}{2}" with "\frac{1}{2}"; then they outvote "0.3".
    assert metrics.majority_vote(["0.3", "\\dfrac{1}{2}", "\\frac{1}{2} "]) == 1
    # Equivalence from the verifier merges "0.5" and "\frac12" into the "\frac{1}{2}" group: 3 votes to 2.
    halves = {"\\frac{1}{2}", "0.5", "\\frac12"}
    same = lambda a, b: a in halves and b in halves  # noqa: E731
    answers = ["7", "\\frac{1}{2}", "7", "0.5", "\\frac12"]
    assert metrics.majority_vote(answers) == 0
    assert metrics.majority_vote(answers, same) == 1


COMPLETIONS = {
    # wrong before the reflection, repaired after: incorrect -> correct
    "repair": ("<|continue|>3 + 4 = 8, so \\boxed{8}.<|reflect|>Check: 8 - 4 = 4, not 3. Wrong."
               "<|continue|>3 + 4 = 7. \\boxed{7}", True),
    # right before, still right: correct -> correct
    "confirm": ("<|continue|>3 + 4 = 7, so \\boxed{7}.<|reflect|>Check: 7 - 4 = 3. Right.", True),
    # right before, talked out of it: correct -> incorrect
    "break": ("<|continue|>\\boxed{7}<|reflect|>Hmm, maybe 3 + 4 = 6.<|explore|>\\boxed{6}", False),
    # no answer before the reflection counts as incorrect; wrong at the end: incorrect -> incorrect
    "no_answer": ("<|continue|>Add 3 and 4.<|reflect|>Check the sum.<|continue|>\\boxed{6}", False),
    # no reflection at all: not counted
    "plain": ("<|continue|>3 + 4 = 7. \\boxed{7}", True),
}


def test_self_correction_counts_on_hand_written_coat():
    gold = "7"
    pairs = []
    for text, final_correct in COMPLETIONS.values():
        prefix = before_first(text, REFLECT)
        if prefix is None:
            continue
        before = extract_answer(prefix)
        pairs.append((None if before is None else before == gold, final_correct))
    counts = metrics.self_correction_counts(pairs)
    assert counts == {"correct->correct": 1, "correct->incorrect": 1,
                      "incorrect->correct": 1, "incorrect->incorrect": 1}


def test_grouped_accuracy_and_share():
    groups = metrics.grouped_accuracy([("Algebra", True), ("Algebra", False), ("Geometry", True)])
    assert groups == {"Algebra": {"accuracy": 0.5, "count": 2}, "Geometry": {"accuracy": 1.0, "count": 1}}
    assert metrics.share([True, False, False, True]) == 0.5
    assert math.isnan(metrics.share([]))
