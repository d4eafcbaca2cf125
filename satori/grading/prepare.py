"""Parent-side half of a verification: extract and normalize both answers, decide the easy cases.

Everything here is pure string work. What needs sympy becomes a :class:`Job` for a worker
process (see :mod:`satori.grading.worker`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Union

from satori.grading.extract import answer_for_grading, answer_of
from satori.grading.normalize import Answer, AnswerRefused, normalize
from satori.grading.verdict import Verdict

Gold = Union[str, int, float, Sequence[Any]]
_PLAIN_NUMBER_RE = re.compile(r"^-?(?:\d{1,400}(?:\.\d{0,400})?|\.\d{1,400})$")
# A comma that cannot separate thousands: "2500,75", "0,25", and "2.500,75" with dots for thousands.
_DECIMAL_COMMA_RE = re.compile(r"^(-?)(\d{1,400}|\d{1,3}(?:\.\d{3}){1,100}),(\d{1,400})$")


@dataclass(frozen=True)
class Job:
    """A comparison that needs sympy: normalized gold answers (one or more) and prediction."""

    golds: tuple[Answer, ...]
    pred: Answer
    extracted: str
    rule: str

    def payload(self, rel_tol: float) -> dict[str, Any]:
        """JSON-ready message for a worker."""
        return {
            "gold": [g.text for g in self.golds],
            "gold_flags": [[g.percent, g.degrees] for g in self.golds],
            "pred": self.pred.text,
            "pred_flags": [self.pred.percent, self.pred.degrees],
            "rel_tol": rel_tol,
        }

    def verdict(self, status: str, reason: str) -> Verdict:
        return Verdict(correct=status == "correct", status=status, extracted=self.extracted,
                       gold_normalized=gold_text(self.golds), pred_normalized=self.pred.text, reason=reason,
                       rule=self.rule)


def gold_text(golds: Sequence[Answer]) -> str:
    return " ; ".join(g.text for g in golds)


def prepare(prediction: Any, gold: Gold, rel_tol: float = 1e-4) -> Verdict | Job:
    """A final :class:`Verdict` when strings (or plain decimal numbers) decide it, else a :class:`Job`."""
    found = answer_for_grading("" if prediction is None else str(prediction))
    if found is None:
        return Verdict(False, "unparseable", None, reason="no answer found in the prediction")
    extracted, rule = found.text, found.rule
    golds_raw = [gold] if isinstance(gold, (str, int, float)) else list(gold)
    if not golds_raw:
        return Verdict(False, "unparseable", extracted, reason="empty gold list", rule=rule)
    try:
        golds = tuple(normalize(answer_of(str(g))) for g in golds_raw)
    except AnswerRefused as exc:
        return Verdict(False, "unparseable", extracted, reason=f"gold refused: {exc}", rule=rule)
    try:
        pred = normalize(extracted)
    except AnswerRefused as exc:
        return Verdict(False, "unparseable", extracted, gold_normalized=gold_text(golds),
                       reason=f"prediction refused: {exc}", rule=rule)
    if len(golds) == 1 and "," not in golds[0].key():
        pred = _decimal_comma_read(pred)
    job = Job(golds, pred, extracted, rule)
    if len(golds) == 1:
        decided = _decide_by_strings(golds[0], pred) or _decide_plain_numbers(golds[0], pred, rel_tol)
        if decided is not None:
            return job.verdict(*decided)
    if not pred.text:
        return job.verdict("unparseable", "prediction is empty after normalization")
    return job


def _decimal_comma_read(pred: Answer) -> Answer:
    """``2500,75`` as ``2500.75`` (called only when the gold is one value, so no list is meant)."""
    match = _DECIMAL_COMMA_RE.match(pred.key())
    if match is None:
        return pred
    sign, whole, fraction = match.groups()
    return replace(pred, text=f"{sign}{whole.replace('.', '')}.{fraction}")


def _decide_by_strings(gold: Answer, pred: Answer) -> tuple[str, str] | None:
    if gold.choice is not None:
        bare_letter = gold.key() in (gold.choice, f"({gold.choice})")
        if pred.choice == gold.choice:
            return "correct", f"choice {gold.choice}"
        if bare_letter or pred.choice is not None:
            return "incorrect", f"expected choice {gold.choice}, got {pred.choice or 'no choice letter'}"
    if gold.key() == pred.key() and gold.key():
        return "correct", "identical after normalization"
    if gold.word is not None:
        if pred.word == gold.word:
            return "correct", "same words"
        return "incorrect", f"expected the words {gold.word!r}"
    return None


def _decide_plain_numbers(gold: Answer, pred: Answer, rel_tol: float) -> tuple[str, str] | None:
    """Compare two plain decimal numbers exactly (``Fraction``), or within ``rel_tol`` if one has a point."""
    if not (_PLAIN_NUMBER_RE.match(gold.key()) and _PLAIN_NUMBER_RE.match(pred.key())):
        return None
    golds = _number_readings(gold)
    preds = _number_readings(pred)
    inexact = "." in gold.key() or "." in pred.key()
    for g in golds:
        for p in preds:
            if g == p or (inexact and abs(g - p) <= Fraction(rel_tol) * max(abs(g), abs(p))):
                return "correct", "equal numbers"
    return "incorrect", "different numbers"


def _number_readings(answer: Answer) -> list[Fraction]:
    value = Fraction(answer.key())
    return [value, value / 100] if answer.percent else [value]
