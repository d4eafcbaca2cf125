"""A pool of verifier worker processes with a hard wall-clock limit per comparison.

Workers are plain subprocesses (``python -m satori.grading.worker``) talking JSON lines over
pipes, so the pool works the same from a script, a thread or a Ray actor (no fork of a
threaded parent, no re-import of ``__main__``). A worker that overruns the limit is killed
and replaced; its item gets status ``"timeout"`` and the pool keeps serving.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from satori.grading.prepare import Gold, Job, prepare
from satori.grading.verdict import Verdict

DEFAULT_TIMEOUT = 5.0
DEFAULT_REL_TOL = 1e-4
STARTUP_TIMEOUT = 120.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _Worker:
    """One worker subprocess; ``index``/``deadline`` describe the job it is running."""

    def __init__(self, warm_up: bool) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "satori.grading.worker", *([] if warm_up else ["--no-warm-up"])]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=_PACKAGE_ROOT, close_fds=True)
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.ready = False
        self.started = time.monotonic()
        self.index: int | None = None
        self.deadline = 0.0

    def send(self, index: int, message: dict[str, Any], timeout: float) -> None:
        self.index, self.deadline = index, time.monotonic() + timeout
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read_lines(self) -> list[bytes] | None:
        """Complete lines available now; None when the process has exited."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class VerifierPool:
    """``workers`` verifier processes; ``verify_batch`` grades many pairs in parallel.

    ``warm_up`` lets each idle worker parse a set of common answer shapes, which makes later
    parses several times faster.
    Use as a context manager or call :meth:`close`. Thread-safe: concurrent calls are
    served one batch at a time.
    """

    def __init__(self, workers: int = 1, timeout: float = DEFAULT_TIMEOUT, rel_tol: float = DEFAULT_REL_TOL,
                 warm_up: bool = True):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.timeout, self.rel_tol = timeout, rel_tol
        self._lock = threading.Lock()
        self.warm_up = warm_up
        self._workers = [_Worker(warm_up) for _ in range(workers)]
        self.restarts = 0

    @property
    def size(self) -> int:
        return len(self._workers)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Block until every worker has started (e.g. before timing); RuntimeError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                starting = [w for w in self._workers if not w.ready]
                if not starting:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"verifier workers did not start within {timeout:g} s")
                readable, _, _ = select.select([w.fd for w in starting], [], [], remaining)
                for worker in starting:
                    if worker.fd in readable:
                        lines = worker.read_lines()
                        if lines is None:
                            raise RuntimeError("a verifier worker exited during start-up "
                                               f"(try: {sys.executable} -m satori.grading.worker)")
                        worker.ready = worker.ready or b"ready" in lines

    def verify(self, prediction: Any, gold: Gold, *, timeout: float | None = None,
               rel_tol: float | None = None) -> Verdict:
        return self.verify_batch([(prediction, gold)], timeout=timeout, rel_tol=rel_tol)[0]

    def verify_batch(self, pairs: Iterable[tuple[Any, Gold]], *, timeout: float | None = None,
                     rel_tol: float | None = None) -> list[Verdict]:
        """One :class:`Verdict` per ``(prediction, gold)`` pair, in order. Never raises on bad input."""
        timeout = self.timeout if timeout is None else timeout
        rel_tol = self.rel_tol if rel_tol is None else rel_tol
        results: list[Verdict | None] = []
        jobs: list[Job | None] = []
        for prediction, gold in pairs:
            try:
                prepared = prepare(prediction, gold, rel_tol)
            except Exception as exc:  # defensive: a bad pair must not sink the batch
                prepared = Verdict(False, "unparseable", reason=f"internal error: {type(exc).__name__}: {exc}")
            results.append(prepared if isinstance(prepared, Verdict) else None)
            jobs.append(prepared if isinstance(prepared, Job) else None)
        pending = deque(i for i, job in enumerate(jobs) if job is not None)
        if pending:
            with self._lock:
                if not self._workers:
                    raise RuntimeError("VerifierPool is closed")
                self._run(jobs, pending, results, timeout, rel_tol)
        return results  # type: ignore[return-value]

    def _run(self, jobs: Sequence[Job | None], pending: deque, results: list, timeout: float,
             rel_tol: float) -> None:
        running = 0
        while pending or running:
            for slot, worker in enumerate(self._workers):
                if pending and worker.ready and worker.index is None:
                    index = pending.popleft()
                    try:
                        worker.send(index, jobs[index].payload(rel_tol), timeout)
                    except OSError:  # the worker died while idle: replace it and retry the item
                        worker.index = None
                        pending.appendleft(index)
                        self._fail(slot, jobs, results, "unparseable", "verifier worker died")
                        continue
                    running += 1
            now = time.monotonic()
            waits = [w.deadline - now for w in self._workers if w.index is not None]
            waits += [w.started + STARTUP_TIMEOUT - now for w in self._workers if not w.ready]
            readable, _, _ = select.select([w.fd for w in self._workers], [], [], max(min(waits, default=0.0), 0.0))
            # Snapshot first: a replaced worker may reuse a closed fd number.
            for slot, worker in [(i, w) for i, w in enumerate(self._workers) if w.fd in readable]:
                lines = worker.read_lines()
                if lines is None:
                    running -= self._fail(slot, jobs, results, "unparseable", "verifier worker died")
                    continue
                for line in lines:
                    if not worker.ready:
                        worker.ready = line == b"ready"
                        continue
                    reply = json.loads(line)
                    results[worker.index] = jobs[worker.index].verdict(reply["status"], reply["reason"])
                    worker.index = None
                    running -= 1
            now = time.monotonic()
            for slot, worker in enumerate(self._workers):
                if worker.index is not None and now >= worker.deadline:
                    running -= self._fail(slot, jobs, results, "timeout", f"no verdict within {timeout:g} s")
                elif not worker.ready and now >= worker.started + STARTUP_TIMEOUT:
                    raise RuntimeError(f"a verifier worker did not start within {STARTUP_TIMEOUT:g} s")

    def _fail(self, slot: int, jobs: Sequence[Job | None], results: list, status: str, reason: str) -> int:
        """Kill and replace worker ``slot``; record ``status`` for its item. Returns 1 if it held one."""
        worker = self._workers[slot]
        worker.kill()
        if not worker.ready and worker.index is None:
            raise RuntimeError("a verifier worker exited during start-up "
                               f"(try: {sys.executable} -m satori.grading.worker)")
        self._workers[slot] = _Worker(self.warm_up)
        self.restarts += 1
        if worker.index is None:
            return 0
        results[worker.index] = jobs[worker.index].verdict(status, reason)
        return 1

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                worker.kill()
            self._workers = []

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            for worker in getattr(self, "_workers", []):
                worker.kill()
        except Exception:
            pass
