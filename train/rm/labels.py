"""The outcome reward model's label set: a policy's sampled completions, graded by the verifier.

One JSONL row per problem (``datasets.load_dataset("json", data_files=PATH)`` reads it)::

    {"id": "arith-d1-00017", "question": "...", "gold": "42",
     "samples": [{"text": "<|continue|> ...", "correct": true, "status": "correct", "answer": "42",
                  "finish_reason": "stop"}, ...]}

``samples`` holds the ``k`` completions of the problem in sampling order; ``correct`` is the verifier's
verdict (status ``correct``), ``answer`` the answer it extracted (null when none). The pairs a Bradley-Terry
loss trains on are every (correct, incorrect) pair of one problem (:func:`preference_pairs`); the points
of a pointwise loss are every sample with its verdict (:func:`labelled_points`). Problems whose samples are
all correct or all incorrect give points but no pairs.

Building is resumable: problems are sampled ``chunk`` at a time, each chunk with its own seed (so a
rerun samples exactly what an uninterrupted one would), and appended durably; a rerun skips the problems
already in the file (:class:`satori.io.JsonlAppender` cuts a torn last line). Chunks are taken in a spread
order, so a file cut short still covers every family and difficulty of the problem set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from satori.io import DataError, JsonlAppender, read_jsonl
from satori.problems import Problem


@dataclass(frozen=True)
class LabelledProblem:
    """A label-set row: the problem and its graded samples (each a dict, see the module docstring)."""

    id: str
    question: str
    gold: Any
    samples: list[dict[str, Any]]

    @property
    def correct(self) -> list[str]:
        return [s["text"] for s in self.samples if s["correct"]]

    @property
    def incorrect(self) -> list[str]:
        return [s["text"] for s in self.samples if not s["correct"]]


def read_labels(path: str | Path) -> list[LabelledProblem]:
    """The rows of a label file; a row missing a field raises :class:`DataError` naming file and line."""
    rows = []
    for line, row in read_jsonl(path):
        try:
            samples = [{"text": str(s["text"]), "correct": bool(s["correct"]), **s} for s in row["samples"]]
            rows.append(LabelledProblem(str(row["id"]), str(row["question"]), row.get("gold"), samples))
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}:{line}: a label row needs id, question and samples[{{text, correct}}] "
                            f"(missing {exc})") from None
    return rows


def preference_pairs(rows: Sequence[LabelledProblem], max_per_problem: int, seed: int
                     ) -> list[tuple[str, str, str]]:
    """``(question, chosen, rejected)`` pairs: every correct x incorrect pair of each problem, at most
    ``max_per_problem`` of them (a seeded sample; 0 keeps all)."""
    rng = random.Random(seed)
    pairs = []
    for row in rows:
        mine = [(row.question, good, bad) for good in row.correct for bad in row.incorrect]
        if 0 < max_per_problem < len(mine):
            mine = rng.sample(mine, max_per_problem)
        pairs.extend(mine)
    return pairs


def labelled_points(rows: Sequence[LabelledProblem]) -> list[tuple[str, str, float]]:
    """``(question, response, label)`` with label 1.0 for a correct sample, 0.0 otherwise."""
    return [(row.question, s["text"], float(s["correct"])) for row in rows for s in row.samples]


def spread_order(n: int) -> list[int]:
    """``range(n)`` in van der Corput order (0, n/2, n/4, 3n/4, ...): any prefix spreads over the whole range."""
    bits = max(1, (n - 1).bit_length())
    return sorted(range(n), key=lambda i: int(format(i, f"0{bits}b")[::-1], 2))


def _chunks(problems: Sequence[Problem], size: int) -> Iterator[tuple[int, list[Problem]]]:
    """``(chunk index, problems)`` in :func:`spread_order`: problem sets list one family and difficulty
    after another, so an unfinished label file still covers them all."""
    count = -(-len(problems) // size)
    for index in spread_order(count):
        yield index, list(problems[index * size: (index + 1) * size])


def build_labels(path: str | Path, problems: Sequence[Problem], engine: Any, tokenizer: Any, template: str, *,
                 samples: int, max_new_tokens: int, temperature: float, seed: int, chunk: int = 16,
                 progress: bool = True) -> Path:
    """Sample ``samples`` completions of each problem with ``engine``, grade them, append rows to ``path``.

    Problems already in ``path`` are skipped; each chunk of ``chunk`` problems is sampled with seed
    ``seed + chunk index``, so a resumed build writes the same rows an uninterrupted one would.
    """
    from satori.engines.base import SamplingParams
    from satori.grading import verify_batch
    from satori.prompts import encode_prompt

    path = Path(path)
    with JsonlAppender(path) as out:
        todo = [(i, c) for i, c in _chunks(problems, chunk) if any(p.id not in out.done_keys for p in c)]
        bar = tqdm(total=len(problems), initial=len(problems) - sum(len(c) for _, c in todo),
                   desc=f"labels {path.name}", disable=not progress, dynamic_ncols=True)
        for index, group in todo:
            params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, n=samples,
                                    seed=seed + index, logprobs=False)
            outputs = engine.generate([encode_prompt(p.question, tokenizer, template) for p in group], params)
            flat = [(p, c) for p, completions in zip(group, outputs) for c in completions]
            verdicts = verify_batch([(c.text, p.gold) for p, c in flat])
            graded = iter(zip(flat, verdicts))
            for problem in group:
                rows = [next(graded) for _ in range(samples)]
                if problem.id in out.done_keys:
                    continue
                out.write({"id": problem.id, "question": problem.question, "gold": problem.gold,
                           "samples": [{"text": c.text, "correct": v.correct, "status": v.status,
                                        "answer": v.extracted, "finish_reason": c.finish_reason}
                                       for (_, c), v in rows]})
            out.sync()
            bar.update(len(group))
        bar.close()
    return path


def label_stats(rows: Sequence[LabelledProblem]) -> dict[str, float]:
    """Sample accuracy, and the share of problems with both a correct and an incorrect sample."""
    n = sum(len(r.samples) for r in rows)
    mixed = sum(bool(r.correct) and bool(r.incorrect) for r in rows)
    return {"labels/problems": len(rows), "labels/samples": n,
            "labels/accuracy": sum(len(r.correct) for r in rows) / max(1, n),
            "labels/mixed_share": mixed / max(1, len(rows))}
