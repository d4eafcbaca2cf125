"""Turn graded sample rows into one benchmark's metrics (see ``eval.metrics`` for definitions)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from satori.problems import Problem

from eval import metrics

STATUSES = ("correct", "incorrect", "unparseable", "timeout")


def summarize_benchmark(rows: list[dict[str, Any]], problems: list[Problem], n: int, ks: list[int],
                        group_by: tuple[str, ...] = (),
                        same: Callable[[str, str], bool] | None = None) -> dict[str, Any]:
    """Metrics of one model on one benchmark from its rows.

    Only rows of ``problems`` with sample index < ``n`` count, so a rerun with a smaller
    ``limit`` reports on exactly the problems asked for. ``same`` merges equivalent answers
    for maj@k (the verifier's equivalence); without it answers group by normalised string.
    ``timeouts`` counts every verifier call that ran out of time (final answers and answers
    before a reflection); a timed-out answer counts as incorrect.
    """
    wanted = {p.id for p in problems}
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["problem_id"] in wanted and row["sample"] < n:
            by_problem[row["problem_id"]].append(row)
    complete = {pid: sorted(rs, key=lambda r: r["sample"]) for pid, rs in by_problem.items() if len(rs) == n}
    kept = [r for rs in complete.values() for r in rs]
    counts = [(n, sum(r["correct"] for r in rs)) for rs in complete.values()]
    statuses = Counter(r["status"] for r in kept)
    reflecting = [r for r in kept if r["before_reflect"] is not None]
    summary: dict[str, Any] = {
        "problems": len(complete),
        "missing_problems": len(wanted) - len(complete),
        "samples": len(kept),
        "pass@k": {str(k): metrics.mean_pass_at_k(counts, k) for k in ks},
        "maj@k": {str(k): _mean([metrics.maj_at_k([r["extracted"] for r in rs], [r["correct"] for r in rs], k, same)
                                 for rs in complete.values()]) for k in ks if k > 1},
        "status": {s: statuses.get(s, 0) for s in STATUSES},
        "timeouts": statuses.get("timeout", 0) + sum(r["before_reflect"]["status"] == "timeout" for r in reflecting),
        "mean_tokens": _mean([r["tokens"] for r in kept]),
        "truncated_share": metrics.share(r["finish_reason"] == "length" for r in kept),
        "reflect_share": metrics.share(r["actions"]["reflect"] > 0 for r in kept),
        "explore_share": metrics.share(r["actions"]["explore"] > 0 for r in kept),
        "self_correction": metrics.self_correction_counts(
            (r["before_reflect"]["correct"], r["correct"]) for r in reflecting),
        "groups": {key: metrics.grouped_accuracy((str(r["meta"].get(key)), r["correct"]) for r in kept)
                   for key in group_by},
    }
    summary["pass@1"] = summary["pass@k"].get("1", metrics.mean_pass_at_k(counts, 1))
    return summary


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def distinct_answer_pairs(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """``(earlier, later)`` pairs of differently-spelled answers given to the same problem.

    These are the pairs maj@k may ask the verifier about to merge vote groups.
    """
    answers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["sample"]):
        answer = row["extracted"]
        group = answers[(row["benchmark"], row["problem_id"])]
        if answer is not None and all(metrics.normalize_answer(a) != metrics.normalize_answer(answer)
                                      for a in group):
            group.append(answer)
    return {(a, b) for group in answers.values() for i, a in enumerate(group) for b in group[i + 1:]}
