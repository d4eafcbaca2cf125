"""A verifier worker process: ``python -m satori.grading.worker``.

Reads one JSON job per line on stdin, writes one JSON result per line on stdout. The
parent kills the process when a job overruns its time limit, so nothing here needs a
timer; if the parent itself dies (nobody left to enforce the limit), the worker exits.
sympy and the LaTeX grammar are loaded once, before ``ready``; common answer shapes are
then parsed while the worker is idle, so later parses are fast.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

MEMORY_LIMIT_BYTES = 4 * 1024 ** 3
IDLE_SECONDS = 0.2  # warm up only after this long without a job, so batches never wait for it
PARENT_CHECK_SECONDS = 0.5


def run_job(job: dict[str, Any]) -> dict[str, str]:
    """``{"status", "reason"}`` for one job (see :meth:`satori.grading.prepare.Job.payload`)."""
    from satori.grading.compare import ParseError, equivalent, equivalent_multi, parse

    try:
        golds = [parse(text) for text in job["gold"]]
    except ParseError as exc:
        return {"status": "unparseable", "reason": f"gold: {exc}"}
    try:
        pred = parse(job["pred"])
    except ParseError as exc:
        return {"status": "unparseable", "reason": f"prediction: {exc}"}
    try:
        if len(golds) == 1:
            same = equivalent(golds[0], pred, job["rel_tol"], tuple(job["gold_flags"][0]), tuple(job["pred_flags"]))
        else:
            same = equivalent_multi(golds, pred, job["rel_tol"])
    except RecursionError:
        return {"status": "unparseable", "reason": "expression nests too deeply"}
    except Exception as exc:  # sympy raises many types on odd input; never crash the worker
        return {"status": "unparseable", "reason": f"comparison failed: {type(exc).__name__}: {exc}"[:300]}
    return {"status": "correct" if same else "incorrect", "reason": "equivalent" if same else "not equivalent"}


def exit_with_parent(interval: float = PARENT_CHECK_SECONDS) -> None:
    """Have this worker killed as soon as its parent is gone, even in the middle of a job.

    A forked watcher process does it: a thread could not, as one long sympy call can hold the
    GIL for minutes. The watcher leaves when the worker does.
    """
    owner, worker = os.getppid(), os.getpid()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the watcher is reaped automatically
    if os.fork() != 0:
        return
    try:
        os.closerange(0, 3)  # keep no end of the worker's pipes open
        while os.getppid() == worker:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os.kill(worker, signal.SIGKILL)
                break
            time.sleep(interval)
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    exit_with_parent()
    warm = "--no-warm-up" not in (sys.argv[1:] if argv is None else argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > MEMORY_LIMIT_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, hard))
    protocol = sys.stdout
    sys.stdout = sys.stderr  # stray prints from libraries must not corrupt the protocol
    from satori.grading.compare import WARM_UP

    run_job({"gold": ["\\frac{1}{2}x+\\sqrt{2}"], "gold_flags": [[False, False]], "pred": "(x+2\\sqrt{2})/2",
             "pred_flags": [False, False], "rel_tol": 1e-4})
    protocol.write("ready\n")
    protocol.flush()
    warm_up = list(WARM_UP) if warm else []
    for line in _lines(sys.stdin.fileno(), idle=warm_up):
        try:
            result = run_job(json.loads(line))
        except MemoryError:
            result = {"status": "unparseable", "reason": "out of memory"}
        protocol.write(json.dumps(result) + "\n")
        protocol.flush()


def _lines(fd: int, idle: list[str]) -> Iterator[bytes]:
    """Lines read from ``fd``; while none is waiting, parse the ``idle`` warm-up answers one by one.

    Warming up only when idle makes the worker ready at once, while the parser's prediction
    caches still fill before most real jobs arrive.
    """
    from satori.grading.compare import ParseError, parse

    buffer = b""
    while True:
        while b"\n" not in buffer:
            if idle and not select.select([fd], [], [], IDLE_SECONDS)[0]:
                try:
                    parse(idle.pop(0))
                except ParseError:
                    pass
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        yield line


if __name__ == "__main__":
    main()
