"""Problems to synthesize from: the procedural families, or a file/hub set with bad rows reported.

File layouts: GSM8K (``####`` answers), ``problem``/``expected_answer``, and MATH-style worked
solutions (``answer_from_boxed``: gold = the last ``\\boxed{}``).

A bad row (empty question, no answer, a gold answer the verifier cannot parse, a repeated id)
is reported with its file and line (``path:line``; ``name[split] row i`` for non-JSONL sources)
and skipped, or refused with :class:`~satori.io.DataError`, as ``on_bad`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from data_synthesis.config import SourceConfig
from data_synthesis.families import generate_mix
from satori.io import DataError, read_jsonl
from satori.latex import last_boxed
from satori.problems import ColumnMap, Problem, load_problems, row_to_problem


def load_source(config: SourceConfig, seed: int, verifier: Any, bad: list[str]) -> list[Problem]:
    """The problems ``config`` names; messages about skipped rows are appended to ``bad``."""
    if config.kind == "procedural":
        p = config.procedural
        return generate_mix(p.families, p.difficulties, p.n, seed=seed, split=p.split)
    located = _load_located(config, bad)
    if config.file.answer_from_boxed:
        located = _golds_from_boxes(located, config.on_bad, bad)
    return _check_rows(located, config.on_bad, verifier, bad)


def _load_located(config: SourceConfig, bad: list[str]) -> list[tuple[str, Problem]]:
    """``(location, problem)`` pairs; rows without question or answer go through ``on_bad`` here."""
    f = config.file
    columns = ColumnMap(question=f.question, answer=f.answer, solution=f.solution, id=f.id, meta=list(f.meta))
    path = Path(f.path)
    if not (path.suffix == ".jsonl" and path.is_file()):
        problems = load_problems(f.path, columns=columns, split=f.split, subset=f.subset, limit=f.limit,
                                 on_bad=config.on_bad, warnings=bad)
        return [(f"{f.path} row {i + 1}", p) for i, p in enumerate(problems)]
    located = []
    for index, (line, row) in enumerate(read_jsonl(path, skip_bad=config.on_bad == "skip", errors=bad)):
        if f.limit is not None and len(located) >= f.limit:
            break
        where = f"{path}:{line}"
        try:
            located.append((where, row_to_problem(row, columns, default_id=f"{path.stem}-{index}", source=path.stem)))
        except ValueError as exc:
            _bad(f"{where}: {exc}", config.on_bad, bad)
    return located


def _golds_from_boxes(located: list[tuple[str, Problem]], on_bad: str, bad: list[str]) -> list[tuple[str, Problem]]:
    """MATH-style rows: gold = last ``\\boxed{}`` of the worked solution in the answer column."""
    kept = []
    for where, problem in located:
        text = problem.gold if isinstance(problem.gold, str) else "\n".join(problem.gold)
        boxed = last_boxed(text)
        if boxed is None or not boxed.strip():
            _bad(f"{where}: no \\boxed{{}} answer in the solution text (answer_from_boxed is set)", on_bad, bad)
            continue
        problem.solution = problem.solution or text
        problem.gold = boxed.strip()
        kept.append((where, problem))
    return kept


def _check_rows(located: list[tuple[str, Problem]], on_bad: str, verifier: Any, bad: list[str]) -> list[Problem]:
    """Drop (or refuse) rows whose gold the verifier cannot parse and rows repeating an id."""
    golds = [p.gold if isinstance(p.gold, str) else p.gold[0] for _, p in located]
    verdicts = verifier.verify_batch([(f"\\boxed{{{g}}}", p.gold) for g, (_, p) in zip(golds, located)])
    seen: set[str] = set()
    problems = []
    for (where, problem), verdict in zip(located, verdicts):
        if not verdict.correct:
            _bad(f"{where}: gold answer {problem.gold!r} is not parseable by the verifier ({verdict.status}: "
                 f"{verdict.reason})", on_bad, bad)
        elif problem.id in seen:
            _bad(f"{where}: id {problem.id!r} repeats an earlier row", on_bad, bad)
        else:
            seen.add(problem.id)
            problems.append(problem)
    return problems


def _bad(message: str, on_bad: str, bad: list[str]) -> None:
    if on_bad == "error":
        raise DataError(message + " (set source.on_bad=skip to skip such rows)")
    bad.append(message)
