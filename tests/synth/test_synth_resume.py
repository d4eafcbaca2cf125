"""SIGKILL part-way through `satori synth`, rerun: the result equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # CLI subprocesses

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "synth_procedural.yaml"


def synth(out: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "satori.cli", "synth", str(CONFIG), f"run_dir={out}",
            "source.procedural.n=400", "chunk_size=10", "agents.verifier_workers=1", "progress=false", *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    reference = synth(tmp_path / "reference")
    killed = synth(tmp_path / "resumed")
    ledger = tmp_path / "resumed" / "progress.jsonl"
    deadline = time.monotonic() + 60
    while lines(ledger) < 80 and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    done_before = lines(ledger)
    assert 80 <= done_before < 400, "the kill must land part-way"
    assert not (tmp_path / "resumed" / "demos.jsonl").exists()
    with open(ledger, "ab") as handle:         # a torn row, as if killed mid-write
        handle.write(b'{"id": "arith-d1-torn", "planned')

    resumed = synth(tmp_path / "resumed")
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()
    assert reference.wait(timeout=120) == 0, reference.stderr.read().decode()

    ids = [json.loads(line)["id"] for line in ledger.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 400
    resumed_demos = (tmp_path / "resumed" / "demos.jsonl").read_bytes()
    assert resumed_demos == (tmp_path / "reference" / "demos.jsonl").read_bytes()
    assert len(resumed_demos.splitlines()) == 400
    stats = [json.loads((tmp_path / d / "stats.json").read_text()) for d in ("reference", "resumed")]
    for s in stats:
        s.pop("wall_seconds_this_run")
    assert stats[0] == stats[1]

