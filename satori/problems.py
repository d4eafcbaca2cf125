"""Problem sets: load math problems from a local file or a hub dataset into `Problem` rows.

Local ``.jsonl`` files are read line by line so a malformed row names its file and line;
other local formats (json, parquet, csv) and hub names go through ``datasets``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from satori.io import DataError, read_jsonl

QUESTION_KEYS = ("problem", "question", "prompt")
ANSWER_KEYS = ("answer", "expected_answer", "final_answer", "gold")
SOLUTION_KEYS = ("solution", "reference_solution")
ID_KEYS = ("id", "unique_id", "idx")
_GSM8K_ANSWER = re.compile(r"####\s*(.+?)\s*$", re.S)


@dataclass
class Problem:
    """One problem. ``gold`` is a string, or a list of strings for multi-answer problems."""

    id: str
    question: str
    gold: str | list[str]
    solution: str | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ColumnMap:
    """Which columns hold what; ``None`` means detect from the usual names."""

    question: str | None = None
    answer: str | None = None
    solution: str | None = None
    id: str | None = None
    meta: list[str] = field(default_factory=list)


def load_problems(source: str | os.PathLike, columns: ColumnMap | None = None, split: str = "test",
                  subset: str | None = None, limit: int | None = None,
                  on_bad: Literal["error", "skip"] = "error", warnings: list[str] | None = None,
                  name: str | None = None) -> list[Problem]:
    """Load ``source`` (a local file, or a hub dataset name) as a list of problems.

    Rows with an empty question or no answer raise :class:`DataError` naming file and line,
    or with ``on_bad="skip"`` are skipped and their messages appended to ``warnings``.
    """
    columns = columns or ColumnMap()
    label = name or Path(str(source)).stem
    problems: list[Problem] = []
    for where, index, row in iter_rows(source, split, subset, on_bad, warnings):
        try:
            problems.append(row_to_problem(row, columns, default_id=f"{label}-{index}", source=label))
        except ValueError as exc:
            message = f"{where}: {exc}"
            if on_bad == "error":
                raise DataError(message) from None
            if warnings is not None:
                warnings.append(message)
            continue
        if limit is not None and len(problems) >= limit:
            break
    return problems


def iter_rows(source: str | os.PathLike, split: str = "train", subset: str | None = None, on_bad: str = "error",
              warnings: list[str] | None = None) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Yield ``(location, index, row)``; location is ``file:line`` or ``name[split] row i``."""
    path = Path(source)
    if path.suffix == ".jsonl" and path.is_file():
        for index, (line, row) in enumerate(read_jsonl(path, skip_bad=on_bad == "skip", errors=warnings)):
            yield f"{path}:{line}", index, row
        return
    import datasets

    if path.is_file():
        kind = {".json": "json", ".parquet": "parquet", ".csv": "csv", ".jsonl": "json"}.get(path.suffix)
        if kind is None:
            raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .jsonl, .json, .parquet or .csv")
        data = datasets.load_dataset(kind, data_files=str(path), split="train")
        label = str(path)
    elif looks_local(source):
        raise DataError(f"problem file not found: {path}")
    else:
        try:
            data = datasets.load_dataset(str(source), subset, split=split)
        except (OSError, ValueError) as exc:   # offline, unknown name, missing split
            raise DataError(f"{source}: no such local file, and the hub dataset could not be loaded: {exc}") from None
        label = f"{source}[{split}]"
    for index, row in enumerate(data):
        yield f"{label} row {index + 1}", index, row


def looks_local(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a local file rather than a hub dataset (``org/name``): a data-file suffix, an
    absolute or ``./`` path, more than one ``/``, or a parent folder that exists here."""
    path, text = Path(source), str(source)
    return (path.suffix in (".jsonl", ".json", ".parquet", ".csv") or path.is_absolute() or text.startswith(".")
            or text.count("/") > 1 or (text.count("/") == 1 and path.parent.is_dir()))


def row_to_problem(row: dict[str, Any], columns: ColumnMap, default_id: str, source: str) -> Problem:
    """Map one raw row to a :class:`Problem`; raises ValueError saying what is missing."""
    question_key = columns.question or _first_key(row, QUESTION_KEYS)
    answer_key = columns.answer or _first_key(row, ANSWER_KEYS)
    solution_key = columns.solution or _first_key(row, SOLUTION_KEYS)
    question = row.get(question_key) if question_key else None
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"empty or missing question (column {question_key or '/'.join(QUESTION_KEYS)!r})")
    raw_answer = row.get(answer_key) if answer_key else None
    solution = row.get(solution_key) if solution_key else None
    if isinstance(solution, list):
        solution = "\n".join(str(s) for s in solution)
    gold = normalize_gold(raw_answer)
    if gold is None or gold == [] or gold == "":
        raise ValueError(f"no answer (column {answer_key or '/'.join(ANSWER_KEYS)!r})")
    if isinstance(raw_answer, str) and _GSM8K_ANSWER.search(raw_answer) and solution is None:
        solution = raw_answer
    id_key = columns.id or _first_key(row, ID_KEYS)
    problem_id = str(row[id_key]) if id_key and row.get(id_key) is not None else default_id
    meta = {k: row[k] for k in columns.meta if k in row}
    return Problem(id=problem_id, question=question, gold=gold, solution=solution, source=source, meta=meta)


def normalize_gold(value: Any) -> str | list[str] | None:
    """Turn a raw answer cell into the gold string(s).

    GSM8K worked answers keep the text after ``####``; floats that are whole numbers lose
    their ``.0`` (AMC); strings wrapped in ``$...$`` are unwrapped; lists map element-wise
    (one element collapses to a string). Leading zeros (AIME ``"025"``) are kept: the
    verifier compares values.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [normalize_gold(v) for v in value]
        items = [i for i in items if isinstance(i, str) and i]
        return items[0] if len(items) == 1 else items
    text = str(value).strip()
    match = _GSM8K_ANSWER.search(text)
    if match:
        text = match.group(1).strip()
    if len(text) >= 2 and text.startswith("$") and text.endswith("$"):
        text = text.strip("$").strip()
    return text


def _first_key(row: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in row and row[k] is not None), None)
