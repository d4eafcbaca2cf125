"""Metrics of an outcome reward model's scores over graded samples (plain Python, no torch).

- pairwise accuracy: over every (correct, incorrect) pair of samples of the same problem, the share the
  model ranks correct-first (a tie counts one half). Problems with no such pair do not count.
- AUC: the probability that a correct sample outscores an incorrect one, over all samples of all
  problems (Mann-Whitney, ties one half).
- ORM best-of-n: the top-scored of a problem's ``n`` samples is graded (ties go to the earliest sample).
- ORM-weighted vote: samples vote for their extracted answer with weight ``sigmoid(score)``; the answer
  with the largest total wins (grouped as :func:`eval.metrics.majority_vote` groups); ties go to the
  group that appeared first. No answer at all counts as wrong.

``satori eval --rerank ORM`` adds ``orm_best_of_<n>``, ``orm_vote_<n>`` and ``orm_pairwise_accuracy`` to each
benchmark's summary (:func:`rerank_summary`); the ORM reads each sample's prompt as the eval wrote it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from eval.metrics import answer_groups
from satori.rewards import orm_bonus


def pairwise_accuracy(problems: Sequence[tuple[Sequence[float], Sequence[bool]]]) -> float:
    """Share of within-problem (correct, incorrect) pairs ranked correctly; NaN when there is none.

    ``problems`` holds, per problem, its samples' ``(scores, correct)``.
    """
    wins, total = 0.0, 0
    for scores, correct in problems:
        good = [s for s, c in zip(scores, correct) if c]
        bad = [s for s, c in zip(scores, correct) if not c]
        for g in good:
            for b in bad:
                wins += 1.0 if g > b else 0.5 if g == b else 0.0
        total += len(good) * len(bad)
    return wins / total if total else float("nan")


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties one half); NaN without both labels."""
    ranked = sorted(zip(scores, labels))
    positives = sum(1 for _, y in ranked if y)
    negatives = len(ranked) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum, index = 0.0, 0
    while index < len(ranked):             # average ranks (1-based) over runs of equal scores
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        mean_rank = (index + end) / 2 + 1
        rank_sum += mean_rank * sum(1 for _, y in ranked[index: end + 1] if y)
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def best_of_n(scores: Sequence[float]) -> int:
    """Index of the top-scored sample (the earliest of equal scores)."""
    if not scores:
        raise ValueError("best_of_n needs at least one score")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def weighted_vote(answers: Sequence[str | None], scores: Sequence[float],
                  same: Callable[[str, str], bool] | None = None) -> int | None:
    """Index of the first sample of the answer group with the largest total ``sigmoid(score)``; None
    when no sample has an answer."""
    groups = answer_groups(answers, same)
    if not groups:
        return None
    weight = [sum(orm_bonus(scores[i], 0.0, 1.0) for i in members) for members in groups]
    best = max(range(len(groups)), key=lambda g: (weight[g], -groups[g][0]))
    return groups[best][0]


def rerank_summary(rows: Sequence[dict[str, Any]], problems: Sequence[Any], n: int,
                   scores: dict[str, float], same: Callable[[str, str], bool] | None = None) -> dict[str, Any]:
    """ORM best-of-n and ORM-weighted vote accuracy of one benchmark's sample rows (``eval.harness`` rows,
    ``scores`` by row ``key``), over the problems of ``problems`` with all ``n`` samples."""
    wanted = {p.id for p in problems}
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["problem_id"] in wanted and row["sample"] < n:
            by_problem[row["problem_id"]].append(row)
    complete = [sorted(rs, key=lambda r: r["sample"]) for rs in by_problem.values() if len(rs) == n]
    best, vote = [], []
    for rs in complete:
        values = [scores[r["key"]] for r in rs]
        best.append(bool(rs[best_of_n(values)]["correct"]))
        winner = weighted_vote([r["extracted"] for r in rs], values, same)
        vote.append(winner is not None and bool(rs[winner]["correct"]))
    return {f"orm_best_of_{n}": sum(best) / len(best) if best else float("nan"),
            f"orm_vote_{n}": sum(vote) / len(vote) if vote else float("nan"),
            "orm_pairwise_accuracy": pairwise_accuracy(
                [([scores[r["key"]] for r in rs], [r["correct"] for r in rs]) for rs in complete])}


def score_rows(model_path: str, rows: Sequence[dict[str, Any]], batch_size: int = 32) -> dict[str, float]:
    """The outcome reward model's score of every sample row (its prompt text and completion), by row ``key``."""
    from satori.orm import RewardModel

    orm = RewardModel(model_path, batch_size=batch_size)
    values = orm.score_prompted([r["prompt"] for r in rows], [r["completion"] for r in rows])
    return {r["key"]: value for r, value in zip(rows, values)}
