"""Benchmark metrics on graded samples, in plain Python and numpy (no torch, no sympy).

Definitions (what the tables report):

- ``pass@k``: the unbiased estimator of Chen et al. (2021) for ``n`` samples of which ``c``
  are correct, ``1 - C(n-c, k) / C(n, k)``, computed as a running product so large ``n``
  does not overflow. pass@1 with one greedy sample is plain accuracy.
- ``maj@k``: the majority answer among the first ``k`` samples is graded. The votes are the
  answers the verifier extracted (``Verdict.extracted``); samples without one do not vote; if none has one, the problem counts as wrong. Answers are
  grouped by normalised string (:func:`normalize_answer`) and, when a ``same(a, b)``
  predicate is given (the verifier's equivalence), groups whose representatives are
  equivalent are merged. Ties go to the group whose first member came earliest in sample
  order, so the result is deterministic and independent of answer spelling.
- self-correction: for completions that contain ``<|reflect|>``, the answer before the first
  reflection is graded against the final answer's grade. No answer before the reflection
  counts as incorrect (the model had not yet committed to a right answer).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

TRANSITIONS = ("correct->correct", "correct->incorrect", "incorrect->correct", "incorrect->incorrect")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for ``c`` correct out of ``n`` samples: ``1 - C(n-c,k)/C(n,k)``."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    # C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given ``(n, c)`` per problem; NaN for no problems."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    return float(np.mean(values)) if values else float("nan")


_SPACES = re.compile(r"\s+")
_NOISE = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\:|\\ |\$")


def normalize_answer(answer: str) -> str:
    """A cheap canonical spelling for grouping votes: no spaces, ``$``, ``\\left``/``\\right``,
    thin spaces, ``\\dfrac``/``\\tfrac`` -> ``\\frac``, or trailing period."""
    text = _NOISE.sub("", answer)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return _SPACES.sub("", text).rstrip(".")


def answer_groups(answers: Sequence[str | None],
                  same: Callable[[str, str], bool] | None = None) -> list[list[int]]:
    """Sample indices grouped by answer, groups in order of first appearance (samples without an
    answer are in none): equal normalised spellings group together, and with ``same`` so do answers
    it calls equivalent to a group's first member."""
    groups: list[list[int]] = []
    by_key: dict[str, int] = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        key = normalize_answer(answer)
        group = by_key.get(key)
        if group is None and same is not None:
            group = next((g for g, members in enumerate(groups) if same(answers[members[0]], answer)), None)
        if group is None:
            group = len(groups)
            groups.append([])
        by_key[key] = group
        groups[group].append(index)
    return groups


def majority_vote(answers: Sequence[str | None],
                  same: Callable[[str, str], bool] | None = None) -> int | None:
    """Index of the sample whose answer wins the vote (the first member of the winning group).

    ``answers[i]`` is sample i's extracted answer or None. Returns None when no sample has
    an answer. Ties are broken towards the group that appeared first.
    """
    groups = answer_groups(answers, same)
    if not groups:
        return None
    best = max(range(len(groups)), key=lambda g: (len(groups[g]), -groups[g][0]))
    return groups[best][0]


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int,
             same: Callable[[str, str], bool] | None = None) -> bool:
    """Whether the majority answer of the first ``k`` samples is correct."""
    if not 1 <= k <= len(answers):
        raise ValueError(f"need 1 <= k <= {len(answers)} samples, got k={k}")
    winner = majority_vote(answers[:k], same)
    return winner is not None and bool(correct[winner])


def transition(before_correct: bool, final_correct: bool) -> str:
    """Name of a self-correction transition, e.g. ``"incorrect->correct"``."""
    return f"{'correct' if before_correct else 'incorrect'}->{'correct' if final_correct else 'incorrect'}"


def self_correction_counts(pairs: Iterable[tuple[bool | None, bool]]) -> dict[str, int]:
    """Count transitions over ``(correct before first reflection, final correct)`` pairs.

    ``None`` before (no answer before the reflection) counts as incorrect.
    """
    counts = dict.fromkeys(TRANSITIONS, 0)
    for before, final in pairs:
        counts[transition(bool(before), bool(final))] += 1
    return counts


def grouped_accuracy(samples: Iterable[tuple[str, bool]]) -> dict[str, dict[str, float]]:
    """Accuracy per group from ``(group, correct)`` pairs: ``{group: {"accuracy", "count"}}``,
    groups sorted by name."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for group, correct in samples:
        totals[group][0] += int(bool(correct))
        totals[group][1] += 1
    return {g: {"accuracy": hits / count, "count": count} for g, (hits, count) in sorted(totals.items())}


def share(flags: Iterable[bool]) -> float:
    """Fraction of true values; NaN when empty."""
    values = [bool(f) for f in flags]
    return sum(values) / len(values) if values else float("nan")
