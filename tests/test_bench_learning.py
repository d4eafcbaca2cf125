"""bench/learning.py's statistics, argument checks, table and chart, on made-up verdicts (no training)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def learning():
    spec = importlib.util.spec_from_file_location("bench_learning", ROOT / "bench" / "learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdicts(correct: list[bool]) -> dict[tuple, bool]:
    return {("procedural:arith:0" if i % 2 else "procedural:linear:0", f"p{i}"): ok for i, ok in enumerate(correct)}


def test_bootstrap_interval_is_seeded_and_brackets_the_mean(learning):
    differences = np.array([1.0] * 30 + [-1.0] * 10 + [0.0] * 160)
    low, high = learning.paired_bootstrap(differences)
    assert (low, high) == learning.paired_bootstrap(differences)
    assert low < differences.mean() < high
    assert 0.03 < high - low < 0.15       # about ±1.96 * 0.028 around 0.1
    assert learning.paired_bootstrap(np.zeros(50)) == (0.0, 0.0)


def test_compare_counts_flips_between_the_same_problems(learning):
    sft = verdicts([True, True, False, False, False, True])
    rl = verdicts([True, False, True, True, False, True])
    result = learning.compare(sft, rl)
    assert result["incorrect_to_correct"] == 2 and result["correct_to_incorrect"] == 1
    assert result["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert result["difference"] == pytest.approx(1 / 6, abs=1e-4)
    assert result["interval"][0] <= result["difference"] <= result["interval"][1]
    assert set(result["by_benchmark"]) == {"procedural:arith:0", "procedural:linear:0"}
    with pytest.raises(SystemExit):
        learning.compare(sft, verdicts([True] * 5))


def test_seed_mean_averages_the_per_problem_differences(learning):
    sft = verdicts([False, False, True, True])
    mean = learning.seed_mean([sft], [verdicts([True, False, True, True]), verdicts([True, True, True, False])])
    assert mean["mean_accuracy"] == pytest.approx(0.75)
    assert mean["mean_difference"] == pytest.approx(0.25)


def test_seed_mean_against_several_base_runs_uses_their_mean(learning):
    """satori's seeds against TRL's: both sides are averaged per problem before differencing."""
    trl = [verdicts([True, False, False, False]), verdicts([True, True, False, False])]     # mean 0.375
    satori = [verdicts([True, True, True, False]), verdicts([True, True, False, False])]    # mean 0.625
    mean = learning.seed_mean(trl, satori)
    assert mean["mean_accuracy"] == pytest.approx(0.625)
    assert mean["mean_difference"] == pytest.approx(0.25)


def test_against_trl_pairs_each_seed_with_the_trl_run_of_that_seed(learning):
    args = type("Args", (), {"rae_settings": [True], "seeds": [0, 1]})()
    found = {"sft": verdicts([False] * 4),
             "trl_seed0": verdicts([True, False, False, False]), "trl_seed1": verdicts([True, True, True, True]),
             "rl_rae-on_seed0": verdicts([True, True, True, False]), "rl_rae-on_seed1": verdicts([True, True, True, True])}
    rows = learning.against_trl(args, found)
    assert [row.get("seed") for row in rows] == [0, 1, None]
    assert rows[0]["difference"] == pytest.approx(0.5) and rows[1]["difference"] == pytest.approx(0.0)
    assert rows[0]["right_only_in_satori"] == 2 and rows[0]["right_only_in_trl"] == 0
    assert rows[2]["difference"] == pytest.approx(0.25) and rows[2]["seeds"] == [0, 1]


def test_in_run_evaluation_is_off_unless_an_override_turns_it_on(learning, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["learning.py"])
    args = learning.parse_args()
    assert learning.rl_config(args, "sft", 0, True).data.eval_size == 0
    monkeypatch.setattr(sys, "argv", ["learning.py", "data.eval_size=50"])
    args = learning.parse_args()
    assert learning.rl_config(args, "sft", 0, True).data.eval_size == 50


@pytest.mark.parametrize("override", ["seed=3", "rl.model.policy=x", "run_dir=/tmp/x", "rae.enabled=false", "oops"])
def test_keys_set_per_run_are_refused_as_overrides(learning, monkeypatch, override):
    monkeypatch.setattr(sys, "argv", ["learning.py", override])
    with pytest.raises(SystemExit):
        learning.parse_args()


def test_missing_trl_venv_says_how_to_create_it(learning, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["learning.py", "--anchor", "trl", "--trl-python", str(tmp_path / "python")])
    with pytest.raises(SystemExit):
        learning.parse_args()
    assert "python3 -m venv /work/trl-venv" in capsys.readouterr().err


def test_table_and_chart(learning, tmp_path, capsys):
    run = {"kind": "satori", "seed": 0, "steps": 24, "step_seconds": 4.2, "wall_seconds": 150.0, "accuracy": 0.2,
           "difference": 0.02, "interval": [-0.01, 0.05], "incorrect_to_correct": 30, "correct_to_incorrect": 15}
    result = {"sft": {"path": "sft", "accuracy": 0.18}, "problems": 1000, "runs": [
        {**run, "label": "rl_rae-on_seed0", "rae": True}, {**run, "label": "rl_rae-off_seed0", "rae": False},
        {**run, "label": "trl_seed0", "rae": False, "kind": "trl"}],
        "seed_means": [{"kind": "satori", "rae": True, "seeds": [0], "mean_accuracy": 0.2, "mean_difference": 0.02,
                        "interval": [-0.01, 0.05]},
                       {"kind": "trl", "rae": False, "seeds": [0], "mean_accuracy": 0.19, "mean_difference": 0.01,
                        "interval": [-0.02, 0.04]}],
        "against_trl": [{"rae": True, "seed": 0, "difference": 0.01, "interval": [-0.01, 0.03],
                         "right_only_in_satori": 12, "right_only_in_trl": 2},
                        {"rae": True, "seeds": [0], "difference": 0.01, "interval": [-0.01, 0.03]}]}
    learning.print_table(result)
    table = capsys.readouterr().out
    assert "| trl_seed0 | TRL GRPO | 0 | 24 |" in table and "+2.0 [-1.0, +5.0]" in table
    assert "| mean over seeds | TRL GRPO | 0 |" in table
    assert "| RAE on | 0 | +1.0 [-1.0, +3.0] | 12 | 2 |" in table and "| RAE on | mean 0 | +1.0" in table
    learning.plot(result, tmp_path / "learning.png")
    assert (tmp_path / "learning.png").stat().st_size > 10_000
