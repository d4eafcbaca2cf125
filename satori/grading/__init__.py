"""Answer extraction and verification (grading) for math answers.

Importing this package is cheap: sympy and the LaTeX grammar load only inside worker
processes. Public API: :func:`extract_answer`, :func:`verify`, :func:`verify_batch`,
:class:`Verdict`, :class:`VerifierPool`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "extract_answer": "satori.grading.extract",
    "Verdict": "satori.grading.verdict",
    "STATUSES": "satori.grading.verdict",
    "VerifierPool": "satori.grading.pool",
    "verify": "satori.grading.api",
    "verify_batch": "satori.grading.api",
    "shared_pool": "satori.grading.api",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
