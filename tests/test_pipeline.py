"""`satori run` end to end on the quickstart config with tiny budgets: report, resume, a second round."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # `satori run` subprocesses: synth, SFT, PPO on Ray, eval

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
# Round 2 needs verified trajectories to distil: after 12 SFT steps the tiny base wrote no valid COAT;
# after 40 (4 of warm-up) every answer is valid COAT of ~114 tokens, 1 in 6 correct. Sampled at
# temperature 0.3 with room for a whole answer, 7 of rl1's 32 distillation samples were kept (measured;
# at 0.7 none were). sft.data.val_size is a fraction so that it holds out 6 of the 90 synthesized
# questions but none of the 3 distilled ones (a count of 6 would hold out all of them).
TINY_BUDGET = [
    "synth.source.procedural.n=90",
    "sft.max_steps=40", "sft.optim.warmup_steps=4", "sft.eval.num_generations=6", "sft.data.val_size=0.07",
    "sft.checkpoint_every=20",
    "rl.max_steps=2", "rl.eval_every=2", "rl.checkpoint_every=1", "rl.data.train_size=40", "rl.data.eval_size=6",
    "rl.rollout.prompts_per_step=4", "rl.rollout.samples_per_prompt=2", "rl.rollout.max_new_tokens=32",
    "rl.rae.offline_problems=4", "rl.threads=1",
    "distill.problems=8", "distill.samples_per_problem=4", "distill.max_new_tokens=128",
    "distill.temperature=0.3",
    "eval.limit=4", "eval.sampling.max_new_tokens=32",
]


def run(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "satori.cli", "run", str(QUICKSTART), f"run_dir={run_dir}", *TINY_BUDGET, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=1200)


@pytest.mark.timeout(2400)
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
    for page in ("eval/samples.html", "synth/samples.html", "rl1/samples.html"):   # `satori view` pages, linked
        assert f"]({page})" in report and (tmp_path / page).is_file()
    assert (tmp_path / "rl1" / "rollout_samples.jsonl").stat().st_size > 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["results"]) == {"sft", "rl1"}

    again = run(tmp_path, "rounds=1")
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.count("already done, skipping") == 4

    # A second round: distil rl1 into the base model, then RL again.
    second = run(tmp_path, "rounds=2")
    assert second.returncode == 0, second.stderr[-4000:]
    collected = json.loads((tmp_path / "stages" / "distill1_collect.json").read_text())["result"]
    assert collected["samples"] == 8 * 4 and collected["kept"] >= 1
    stages = sorted(p.stem for p in (tmp_path / "stages").glob("*.json"))
    assert {"distill1_collect", "distill1_sft", "rl2"} <= set(stages)
    assert (tmp_path / "rl2" / "final" / "config.json").is_file()
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["results"]) == {"sft", "rl1", "rl2"}
    assert "round 2" in (tmp_path / "report.md").read_text()


def test_distillation_refuses_a_policy_without_a_verified_trajectory(tmp_path, tiny_model, tiny_tokenizer):
    """A policy that never writes verified, valid COAT (a fresh random model) stops the collection
    stage loudly, naming the settings to raise, and leaves no demonstrations behind to train on."""
    from satori.config import load_config
    from train.pipeline import collect_rl_trajectories
    from train.pipeline_config import PipelineConfig

    config = load_config(PipelineConfig, QUICKSTART, [f"run_dir={tmp_path}", "rounds=2", "distill.problems=4",
                                                      "distill.samples_per_problem=2", "distill.max_new_tokens=16"])
    tiny_model.save_pretrained(config.rl_dir(1) / "final")
    tiny_tokenizer.save_pretrained(config.rl_dir(1) / "final")
    with pytest.raises(RuntimeError, match="produced no verified valid-COAT trajectory on 4 problems; raise distill"):
        collect_rl_trajectories(config, 1)
    assert not config.demos_path(1).exists()
