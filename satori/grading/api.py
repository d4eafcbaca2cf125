"""``verify`` / ``verify_batch``: grade with a lazily started, shared pool of worker processes."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterable
from typing import Any

from satori.grading.pool import DEFAULT_REL_TOL, DEFAULT_TIMEOUT, VerifierPool
from satori.grading.prepare import Gold
from satori.grading.verdict import Verdict

_pools: dict[int, VerifierPool] = {}
_pools_lock = threading.Lock()


def shared_pool(workers: int | None = None) -> VerifierPool:
    """The process-wide pool with ``workers`` workers (started on first use, closed at exit).

    ``workers=None`` reuses the largest pool already started, or starts one with 1 worker.
    """
    with _pools_lock:
        if workers is None:
            workers = max(_pools, default=1)
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = VerifierPool(workers=workers)
        return pool


def verify(prediction: Any, gold: Gold, *, timeout: float = DEFAULT_TIMEOUT,
           rel_tol: float = DEFAULT_REL_TOL) -> Verdict:
    """Grade one prediction (a completion or a bare answer) against ``gold``; never raises.

    ``gold`` is an answer or a whole reference solution (``\\boxed{}`` or GSM8K ``####``), or a
    list of answers that the prediction must all give (in any order). Comparisons run in a
    worker process killed after ``timeout`` seconds (status ``"timeout"``). Numbers written
    with decimals match within relative tolerance ``rel_tol``.
    """
    return verify_batch([(prediction, gold)], timeout=timeout, rel_tol=rel_tol)[0]


def verify_batch(pairs: Iterable[tuple[Any, Gold]], *, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT,
                 rel_tol: float = DEFAULT_REL_TOL) -> list[Verdict]:
    """:func:`verify` for many ``(prediction, gold)`` pairs over ``workers`` processes; never raises.

    ``workers=None`` uses the largest shared pool already running (else starts a 1-worker pool).
    """
    pairs = list(pairs)
    try:
        return shared_pool(workers).verify_batch(pairs, timeout=timeout, rel_tol=rel_tol)
    except Exception as exc:
        reason = f"verifier failure: {type(exc).__name__}: {exc}"
        return [Verdict(False, "unparseable", reason=reason) for _ in pairs]


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        pool.close()
