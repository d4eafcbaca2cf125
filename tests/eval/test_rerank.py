"""ORM reranking in `satori eval`: best-of-n and weighted vote on hand-built rows, and through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satori.problems import Problem

from eval.rerank import rerank_summary


def row(problem: str, sample: int, answer: str | None, correct: bool) -> dict:
    return {"key": f"{problem}/{sample}", "problem_id": problem, "sample": sample, "extracted": answer,
            "correct": correct}


def test_rerank_summary_on_known_scores():
    rows = [row("a", 0, "1", False), row("a", 1, "2", True), row("a", 2, "1", False),
            row("b", 0, "5", True), row("b", 1, "6", False), row("b", 2, "6", False),
            row("c", 0, "9", False)]                     # c is incomplete: left out
    scores = {"a/0": 0.0, "a/1": 2.0, "a/2": 0.5,        # a: best-of-3 right; vote 1 (2 x ~0.6) vs 2 (0.88): 1 wins
              "b/0": 3.0, "b/1": -1.0, "b/2": -1.0,      # b: best-of-3 right; vote 5 (0.95) vs 6 (2 x 0.27): 5 wins
              "c/0": 9.0}
    problems = [Problem(p, "?", "0") for p in "abc"]
    out = rerank_summary(rows, problems, 3, scores)
    assert out["orm_best_of_3"] == 1.0 and out["orm_vote_3"] == 0.5
    assert out["orm_pairwise_accuracy"] == 1.0


@pytest.mark.slow
def test_eval_rerank_reports_orm_best_of_n_beside_pass_and_maj(tiny_policy_dir, tiny_orm_dir, tmp_path):
    from satori.cli import main

    out = tmp_path / "eval"
    args = ["eval", "--model", f"policy={tiny_policy_dir}", "--benchmarks", "procedural:arith:0", "--limit", "3",
            "--max-new-tokens", "8", "--n", "4", "--temperature", "1.0", "--k", "1,4", "--rerank", str(tiny_orm_dir),
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    result = json.loads((out / "summary.json").read_text())["results"]["policy"]["procedural:arith:0"]
    assert set(result["pass@k"]) == {"1", "4"} and set(result["maj@k"]) == {"4"}
    assert 0.0 <= result["orm_best_of_4"] <= 1.0 and 0.0 <= result["orm_vote_4"] <= 1.0
    assert "ORM best of 4 (%)" in (out / "table.md").read_text()
