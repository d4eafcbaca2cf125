"""Metrics tracker: JSONL rows, TensorBoard events, resume without duplicates, PNG plots."""

from __future__ import annotations

import json

import pytest

from satori.tracking import MetricsTracker, TrackingConfig, plot_metrics, read_metrics


def test_rows_are_namespaced_and_written_to_jsonl_and_tensorboard(tmp_path):
    with MetricsTracker(tmp_path) as tracker:
        tracker.log(1, {"loss/train": 2.5, "perf/tokens_per_s": 100})
        tracker.log(2, {"loss/train": float("nan")})
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["loss/train"]) for r in rows] == [(1, 2.5), (2, None)]
    assert rows[0]["perf/tokens_per_s"] == 100.0
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_resume_drops_rows_after_the_resumed_step(tmp_path):
    with MetricsTracker(tmp_path, config=TrackingConfig(tensorboard=False)) as tracker:
        for step in range(1, 7):
            tracker.log(step, {"loss/train": 1.0 / step})
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 7, "loss/tr')  # a torn line from a killed writer
    with MetricsTracker(tmp_path, resume_step=4, config=TrackingConfig(tensorboard=False)) as tracker:
        for step in range(5, 8):
            tracker.log(step, {"loss/train": 0.5})
    steps = [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5, 6, 7]
    with MetricsTracker(tmp_path, resume_step=None, config=TrackingConfig(tensorboard=False)):
        pass
    assert read_metrics(tmp_path / "metrics.jsonl") == []  # a fresh run starts a fresh log


def test_plot_metrics_writes_a_png(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss/train": 3 - s / 10, **({"eval/loss": 2.0} if s % 5 == 0 else {})})
                            + "\n" for s in range(1, 21)))
    out = plot_metrics(path, ["loss/train+eval/loss", "eval/absent"], tmp_path / "plots" / "loss.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(ValueError, match="none of the keys"):
        plot_metrics(path, ["eval/absent"], tmp_path / "none.png")


def test_wandb_without_the_package_says_how_to_fix(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "wandb", None)  # behave as if wandb were not installed
    with pytest.raises(RuntimeError, match="pip install wandb"):
        MetricsTracker(tmp_path, config=TrackingConfig(tensorboard=False, wandb_project="p"))
