"""The trained teacher's explanations as a demonstrations file that ``satori sft`` reads unchanged.

Rows have the fields of ``satori synth``'s ``demos.jsonl`` (``id, source, problem, gold, kind,
coat, template, prompt``) plus ``explanation`` and ``solution``:

- ``format.variant: coat``: ``coat`` is the explanation itself, kept only when it parses as
  COAT with a boxed answer (:func:`satori.coat.is_valid`) that the grader verifies against the
  gold answer: it can replace a synthesized demonstration.
- ``format.variant: plain``: ``coat`` is the student's side of the student view (reasoning, then
  the reference solution), kept when the explanation closed its tag; such rows are not COAT.

``RUN/distill/stats.json`` counts every sample and why each rejected one was dropped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from satori import coat
from satori.io import atomic_write_json, atomic_write_jsonl
from satori.prompts import build_prompt
from train.rl.problem_sets import load_problem_set
from train.teach.formats import student_response

DISTILL_DIR = "distill"
DEMOS_FILE = "demos.jsonl"


def rejection(explanation: Any, variant: str) -> str | None:
    """Why an explanation cannot be a demonstration, or None when it can."""
    if not explanation.closed:
        return "missing_close_tag"
    if not explanation.text.strip():
        return "empty_explanation"
    if variant == "coat":
        if not coat.is_valid(explanation.text, require_answer=True):
            return "invalid_coat"
        if not explanation.correct:
            return f"answer_{explanation.status}"
    return None


def demo_rows(explanations: list[Any], fmt: Any, template: str, tokenizer: Any = None) -> tuple[list[dict], Counter]:
    """SFT rows for the usable ``explanations`` (one per distinct text per problem) and the rejection counts."""
    rows, reasons, seen = [], Counter(), set()
    for explanation in explanations:
        problem = explanation.problem
        reason = rejection(explanation, fmt.variant)
        if reason is None and (problem.id, explanation.text) in seen:
            reason = "duplicate"
        if reason is not None:
            reasons[reason] += 1
            continue
        seen.add((problem.id, explanation.text))
        text = (explanation.text if fmt.variant == "coat" else
                student_response(fmt, explanation.text, problem.solution) + fmt.solution_close)
        rows.append({"id": f"{problem.id}-{len(rows)}", "source": "teacher", "problem": problem.question,
                     "gold": problem.gold, "kind": f"teacher_{fmt.variant}", "coat": text, "template": template,
                     "prompt": build_prompt(problem.question, template, tokenizer),
                     "explanation": explanation.text, "solution": problem.solution})
    return rows, reasons


def distill(trainer: Any) -> dict[str, Any]:
    """Explain ``distill.size`` problems with the trainer's current teacher; write ``RUN/distill/``; return stats."""
    config = trainer.teach
    d, fmt = config.distill, config.format
    problems = load_problem_set(d.problems, d.size, d.split, config.seed + 2, d.difficulty)
    trainer.problems.update({p.id: p for p in problems})
    params = {"max_new_tokens": config.rollout.max_new_tokens, "temperature": d.temperature,
              "n": d.samples_per_problem, "seed": config.seed, "logprobs": False}
    explanations = [e for group in trainer.explain(problems, params) for e in group]
    rows, reasons = demo_rows(explanations, fmt, d.template, trainer.tokenizer)
    samples = len(explanations)
    stats = {"problems": len(problems), "samples": samples, "kept": len(rows),
             "kept_share": len(rows) / samples, "rejections": dict(reasons)}
    if fmt.variant == "coat":  # explanations that closed their tag and parse as COAT with a boxed answer
        invalid = reasons["invalid_coat"] + reasons["missing_close_tag"] + reasons["empty_explanation"]
        stats["valid_coat_share"] = 1 - invalid / samples
    out = Path(config.run_dir) / DISTILL_DIR
    atomic_write_jsonl(out / DEMOS_FILE, rows)
    atomic_write_json(out / "stats.json", stats)
    return stats
