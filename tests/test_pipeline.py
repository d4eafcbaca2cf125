"""`satori run` end to end on the quickstart config with tiny budgets: report, resume, a second round."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
TINY_BUDGET = [
    "synth.source.procedural.n=90",
    "sft.train.max_steps=12", "sft.eval.num_generations=6", "sft.data.val_size=6", "sft.checkpoint.every=6",
    "rl.total_steps=2", "rl.eval_every=2", "rl.checkpoint_every=1", "rl.data.train_size=40", "rl.data.eval_size=6",
    "rl.rollout.prompts_per_step=4", "rl.rollout.samples_per_prompt=2", "rl.rollout.max_new_tokens=32",
    "rl.rae.offline_problems=4", "rl.threads=1",
    "distill.problems=8", "distill.samples_per_problem=2", "distill.max_new_tokens=32",
    "eval.limit=4", "eval.sampling.max_new_tokens=32",
]


def run(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "satori.cli", "run", str(QUICKSTART), f"run_dir={run_dir}", *TINY_BUDGET, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_quickstart_with_tiny_budget_resumes_and_adds_a_distillation_round(tmp_path):
    first = run(tmp_path, "rounds=1")
    assert first.returncode == 0, first.stderr[-4000:]
    stages = sorted(p.stem for p in (tmp_path / "stages").glob("*.json"))
    assert stages == ["eval", "rl1", "sft", "synth"]
    report = (tmp_path / "report.md").read_text()
    for heading in ("## Stages", "## Synthesis", "## Format tuning (SFT)", "round 1", "## Evaluation",
                    "incorrect->correct"):
        assert heading in report
    assert (tmp_path / "rl1" / "curves.png").is_file() and (tmp_path / "eval" / "chart.png").is_file()
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["results"]) == {"sft", "rl1"}

    again = run(tmp_path, "rounds=1")
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.count("already done, skipping") == 4

    # A second round: distil rl1 into the base model, then RL again. A 12-step SFT model may solve
    # nothing, in which case distillation must refuse loudly rather than train on nothing.
    second = run(tmp_path, "rounds=2")
    if second.returncode != 0:
        assert "produced no verified valid-COAT trajectory" in second.stderr
        assert not (tmp_path / "stages" / "distill1_collect.json").exists()
        return
    stages = sorted(p.stem for p in (tmp_path / "stages").glob("*.json"))
    assert {"distill1_collect", "distill1_sft", "rl2"} <= set(stages)
    assert (tmp_path / "rl2" / "final" / "config.json").is_file()
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["results"]) == {"sft", "rl1", "rl2"}
    assert "round 2" in (tmp_path / "report.md").read_text()
