"""Hostile predictions: each gets a status within the time limit + 1 s, runs no code, and the pool keeps serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from satori.grading import VerifierPool, verify

TIMEOUT = 2.0
ENDLESS_SUM = "\\boxed{\\sum_{n=1}^{10^{9}} n^{n}}"  # sympy tries to add up 10^9 terms
ADVERSARIAL = {
    "python in a box": ("\\boxed{__import__('os').system('touch pwned')}", "1"),
    "python bare": ("().__class__.__base__.__subclasses__()", "1"),
    "python open": ("\\boxed{open('pwned', 'w').write('x')}", "1"),
    "power tower": ("\\boxed{9^{9^{9^{9}}}}", "1"),
    "factorial of a tower": ("\\boxed{10^{10^{10^{10}}}!}", "1"),
    "symbolic tower": ("\\boxed{x^{9^{9^{9}}}}", "x"),
    "gold tower": ("\\boxed{1}", "9^{9^{9^{9}}}"),
    "10k nested parentheses": ("\\boxed{" + "(" * 10_000 + "1" + ")" * 10_000 + "}", "1"),
    "10k nested parentheses bare": ("(" * 10_000 + "1" + ")" * 10_000, "1"),
    "unbalanced braces": ("\\boxed{\\frac{1}{2" + "{" * 3000, "1"),
    "many unclosed boxes": ("\\boxed{" * 20_000, "1"),
    "NUL bytes": ("\\boxed{1\x00\x00}", "2"),
    "only NUL bytes": ("\x00" * 1000, "1"),
    "lone surrogate": ("\\boxed{\udcff}", "1"),
    "division by zero": ("\\boxed{\\frac{1}{0}}", "1"),
}


@pytest.fixture(scope="module")
def hostile_pool():
    with VerifierPool(workers=2, timeout=TIMEOUT, warm_up=False) as pool:
        yield pool


@pytest.fixture()
def in_empty_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow  # a verifier pool of its own; each input may run to the time limit
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_returns_in_time_and_runs_nothing(hostile_pool, in_empty_dir, name):
    prediction, gold = ADVERSARIAL[name]
    hostile_pool.wait_ready()
    start = time.monotonic()
    verdict = hostile_pool.verify(prediction, gold)
    elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT + 1.0, (name, elapsed, verdict)
    assert verdict.status in ("incorrect", "unparseable", "timeout"), (name, verdict)
    assert not verdict.correct
    assert list(in_empty_dir.iterdir()) == []
    for folder in (Path.cwd(), Path(tempfile.gettempdir()), Path(__file__).resolve().parents[2]):
        assert not (folder / "pwned").exists()
    assert hostile_pool.verify("\\boxed{2}", "2").correct  # the pool still serves


@pytest.mark.slow
def test_one_megabyte_completion(hostile_pool):
    completion = ("Let us think about it. " * 45_000) + "So the answer is \\boxed{\\frac{7}{2}}." + " Done." * 1000
    assert len(completion) > 1_000_000
    hostile_pool.wait_ready()
    start = time.monotonic()
    verdict = hostile_pool.verify(completion, "3.5")
    assert time.monotonic() - start < TIMEOUT + 1.0
    assert verdict.correct and verdict.extracted == "\\frac{7}{2}"


@pytest.mark.slow
def test_timeout_kills_and_replaces_worker_from_a_thread(hostile_pool):
    """No signal.alarm: the limit holds off the main thread (as in Ray actors), and the pool recovers."""
    hostile_pool.wait_ready()
    restarts = hostile_pool.restarts
    out = {}

    def grade():
        start = time.monotonic()
        out["verdicts"] = hostile_pool.verify_batch([(ENDLESS_SUM, "1"), ("\\boxed{3}", "3.0"), ("\\boxed{1/2}", "0.5")])
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=grade)
    thread.start()
    thread.join(60)
    verdicts = out["verdicts"]
    assert [v.status for v in verdicts] == ["timeout", "correct", "correct"]
    assert "within" in verdicts[0].reason and out["elapsed"] < TIMEOUT + 1.0
    assert hostile_pool.restarts == restarts + 1
    assert hostile_pool.verify("x+x", "2x").correct


@pytest.mark.slow
def test_pool_replaces_a_worker_killed_from_outside(hostile_pool):
    hostile_pool.wait_ready()
    restarts = hostile_pool.restarts
    hostile_pool._workers[0].proc.kill()  # e.g. the OOM killer
    hostile_pool._workers[0].proc.wait()
    verdicts = hostile_pool.verify_batch([("\\boxed{%d+0}" % n, str(n)) for n in range(6)])  # needs workers
    assert all(v.correct for v in verdicts)
    assert hostile_pool.restarts == restarts + 1


@pytest.mark.slow
def test_a_busy_worker_exits_when_its_parent_is_killed(tmp_path):
    """SIGKILL the process that owns the pool mid-job: the worker must not grind on unsupervised."""
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys\n"
        "from satori.grading import VerifierPool\n"
        "pool = VerifierPool(workers=1, timeout=600, warm_up=False)\n"
        "pool.wait_ready()\n"
        "print(pool._workers[0].proc.pid, flush=True)\n"
        f"pool.verify({ENDLESS_SUM!r}, '1')\n")
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    worker_pid = int(owner.stdout.readline())
    time.sleep(1.0)  # the endless sum is running now
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 5
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid), "the worker outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"   # a zombie has exited
    except FileNotFoundError:
        return False


def test_verify_never_raises_on_odd_types(pool):
    for prediction, gold in [(None, "1"), (3, 3), ("1", []), ("1", None), (b"1", "1"), ("1", [None])]:
        verdict = verify(prediction, gold, timeout=TIMEOUT)
        assert verdict.status in ("correct", "incorrect", "unparseable")
        assert json.loads(json.dumps(verdict.to_dict()))["status"] == verdict.status


def test_importing_grading_is_light():
    code = ("import sys, satori.grading as g; g.extract_answer('x'); g.Verdict; "
            "bad = [m for m in ('sympy', 'torch', 'ray', 'vllm', 'transformers', 'latex2sympy2_extended') "
            "if m in sys.modules]; print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.stdout.strip() == "[]"
