"""The result of grading one prediction against its gold answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STATUSES = ("correct", "incorrect", "unparseable", "timeout")


@dataclass(frozen=True)
class Verdict:
    """``status`` is one of :data:`STATUSES`; ``correct`` is ``status == "correct"``.

    ``extracted`` is the answer taken from the prediction (None if none was found) and ``rule``
    the extraction rule that chose it (see :mod:`satori.grading.extract`); the ``*_normalized``
    fields are the canonical LaTeX that was compared; ``reason`` says why.
    """

    correct: bool
    status: str
    extracted: str | None = None
    gold_normalized: str | None = None
    pred_normalized: str | None = None
    reason: str = ""
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
