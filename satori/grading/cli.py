"""``satori grade INPUT.jsonl --out OUTPUT.jsonl``: grade ``pred`` against ``gold`` row by row."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from satori.grading.api import verify_batch
from satori.grading.pool import DEFAULT_REL_TOL, DEFAULT_TIMEOUT
from satori.grading.verdict import STATUSES
from satori.io import DataError, atomic_write_jsonl

CHUNK_ROWS = 256

HELP = "grade predictions against gold answers (JSONL in, JSONL out)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSONL file; each row has 'gold' and 'pred'")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL: input rows + correct, status, extracted, rule")
    parser.add_argument("--workers", type=int, default=1, help="verifier worker processes (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per comparison (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--rel-tol", type=float, default=DEFAULT_REL_TOL,
                        help=f"relative tolerance for decimal answers (default {DEFAULT_REL_TOL:g})")
    parser.add_argument("--skip-bad", action="store_true",
                        help="record malformed rows with status 'invalid' instead of stopping")


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("satori grade: --workers must be >= 1")
    if args.timeout <= 0:
        raise SystemExit("satori grade: --timeout must be > 0")
    if not args.input.is_file():
        raise SystemExit(f"satori grade: input file not found: {args.input}")
    try:
        rows = _read_rows(args.input, args.skip_bad)
    except DataError as exc:
        raise SystemExit(f"satori grade: {exc} (fix the row or pass --skip-bad)") from None
    graded = _grade(rows, args)
    atomic_write_jsonl(args.out, graded)
    print(_summary(graded, args.out))
    return 0


def _read_rows(path: Path, skip_bad: bool) -> list[tuple[dict[str, Any], str | None]]:
    """``(row, error)`` per line of ``path``; a malformed row raises :class:`DataError` unless ``skip_bad``."""
    rows: list[tuple[dict[str, Any], str | None]] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            problem = None
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    problem = f"expected a JSON object, got {type(row).__name__}"
                elif "gold" not in row or "pred" not in row:
                    problem = f"missing key(s) {', '.join(k for k in ('gold', 'pred') if k not in row)}"
            except (UnicodeDecodeError, ValueError) as exc:
                problem, row = str(exc), None
            if problem is None:
                rows.append((row, None))
                continue
            message = f"{path}:{number}: malformed row ({problem})"
            if not skip_bad:
                raise DataError(message)
            rows.append((row if isinstance(row, dict) else {"line": number}, message))
    return rows


def _grade(rows: list[tuple[dict[str, Any], str | None]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Input rows plus ``correct``/``status``/``extracted``/``rule`` (malformed rows: status ``invalid`` and ``error``)."""
    from tqdm import tqdm

    out = [dict(row) if error is None else {**row, "correct": False, "status": "invalid", "extracted": None,
                                            "rule": None, "error": error} for row, error in rows]
    todo = [i for i, (_, error) in enumerate(rows) if error is None]
    with tqdm(total=len(todo), desc="grading", unit="row", disable=len(todo) < 1000) as bar:
        for start in range(0, len(todo), CHUNK_ROWS):
            chunk = todo[start: start + CHUNK_ROWS]
            verdicts = verify_batch([(out[i]["pred"], out[i]["gold"]) for i in chunk], workers=args.workers,
                                    timeout=args.timeout, rel_tol=args.rel_tol)
            for i, verdict in zip(chunk, verdicts):
                out[i].update(correct=verdict.correct, status=verdict.status, extracted=verdict.extracted,
                              rule=verdict.rule)
            bar.update(len(chunk))
    return out


def _summary(rows: list[dict[str, Any]], out: Path) -> str:
    counts = Counter(row["status"] for row in rows)
    graded = sum(counts[s] for s in STATUSES)
    accuracy = counts["correct"] / graded if graded else 0.0
    lines = [f"graded {graded} rows -> {out}"]
    lines += [f"  {status:<12}{counts[status]:>8}" for status in (*STATUSES, "invalid") if counts[status] or
              status in STATUSES]
    lines.append(f"  {'accuracy':<12}{accuracy:>8.2%}")
    return "\n".join(lines)
