"""`satori rl` on a file of official Satori RL rows: prompts used as they are, restart rows rewarded by their
``reflect_status`` (a local Ray instance, a CLI subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from satori.prompts import build_prompt

pytestmark = pytest.mark.slow


def official_rows() -> list[dict]:
    """Four plain rows and four restart rows (two from correct, two from incorrect trajectories)."""
    rows = []
    for a, b in ((3, 4), (5, 6), (7, 2), (8, 9)):
        query = build_prompt(f"What is {a} + {b}?", "satori")
        rows.append({"query": query, "answer": str(a + b)})   # no reflect_status: 0
        for status, total in ((1, a + b), (-1, a + b + 1)):
            if len(rows) < 8 and (a, b) in ((3, 4), (5, 6)):
                rows.append({"query": f"{query}<|continue|>{a} + {b} = {total}.\n<|continue|>\\boxed{{{total}}}\n"
                                      "<|reflect|>", "answer": str(a + b), "reflect_status": status})
    return rows


def test_satori_rl_trains_on_official_rows_and_counts_their_restarts(tmp_path, tiny_policy_dir):
    rows = official_rows()
    assert len(rows) == 8 and sorted(r.get("reflect_status", 0) for r in rows) == [-1, -1, 0, 0, 0, 0, 1, 1]
    data = tmp_path / "rl_data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "rl.yaml").write_text("rl:\n  max_steps: 1\n  eval_every: 1\n  checkpoint_every: 1\n")
    command = [sys.executable, "-m", "satori.cli", "rl", str(tmp_path / "rl.yaml"), f"run_dir={tmp_path}",
               f"model.policy={tiny_policy_dir}", f"data.train={data}", "data.train_format=satori-rl",
               "data.eval=procedural:arith", "data.eval_size=4", "rae.enabled=false", "rollout.prompts_per_step=8",
               "rollout.samples_per_prompt=2", "rollout.max_new_tokens=8", "algo.mini_batches=2",
               "algo.advantage=grpo", "threads=1", "ray.num_cpus=2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    step = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()][-1]
    assert step["step"] == 1
    assert step["rae/restart_share"] == 0.5                                   # every row drawn once
    assert step["rae/from_incorrect"] == step["rae/from_correct"] == 0.25     # shares of the 16 samples
    assert "reward/reflection" in step

    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"prompt": "1 + 1?", "label": "2"}) + "\n")
    refused = subprocess.run([*command, f"data.train={wrong}", f"run_dir={tmp_path / 'refused'}"],
                             capture_output=True, text=True, timeout=400)
    assert refused.returncode != 0
    assert f"{wrong}: not in the satori-rl format: expected columns ['query', 'answer'], found ['label', 'prompt']" \
        in refused.stderr
