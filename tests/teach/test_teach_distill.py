"""Distillation rows: only valid, verified COAT explanations are kept, and `satori sft` trains on them as they are."""

from __future__ import annotations

import pytest

from data_synthesis.families import generate_problems
from satori import coat
from satori.config import load_config
from satori.grading import verify
from satori.io import atomic_write_jsonl, read_jsonl
from train.teach.bootstrap import reference_explanations
from train.teach.config import TeachConfig
from train.teach.distill import demo_rows
from train.teach.trainer import Explanation


def explanation(problem, text, closed=True):
    return Explanation(problem, {}, 0, text, closed, status=verify(text, problem.gold).status)


@pytest.fixture(scope="module")
def problems():
    return generate_problems("arith", 4, seed=3, split="test")


def test_coat_rows_are_valid_verified_and_rejections_counted(problems):
    fmt = load_config(TeachConfig, None, []).format
    good = reference_explanations(problems, "coat")
    wrong = good[1].replace(f"\\boxed{{{problems[1].gold}}}", "\\boxed{123456}")
    candidates = [explanation(problems[0], good[0]), explanation(problems[0], good[0]),       # duplicate
                  explanation(problems[1], wrong), explanation(problems[2], "Intro. " + good[2]),  # text before action
                  explanation(problems[3], good[3], closed=False), explanation(problems[3], good[3])]
    rows, reasons = demo_rows(candidates, fmt, "satori")
    assert dict(reasons) == {"duplicate": 1, "answer_incorrect": 1, "invalid_coat": 1, "missing_close_tag": 1}
    assert [r["problem"] for r in rows] == [problems[0].question, problems[3].question]
    for row, problem in zip(rows, (problems[0], problems[3])):
        assert coat.is_valid(row["coat"], require_answer=True)
        assert verify(row["coat"], problem.gold).correct
        assert row["prompt"].endswith(f"Problem: {problem.question}\n") and row["kind"] == "teacher_coat"


def test_plain_rows_hold_reasoning_then_solution(problems):
    fmt = load_config(TeachConfig, None, ["format.variant=plain", "format.reasoning_open=<think>",
                                          "format.reasoning_close=</think>"]).format
    text = reference_explanations(problems[:1], "plain")[0]
    rows, _ = demo_rows([explanation(problems[0], text)], fmt, "satori")
    assert rows[0]["coat"] == f"<think>{text}</think><solution>{problems[0].solution}</solution>"


@pytest.mark.slow
def test_sft_trains_on_distilled_rows_unchanged(tmp_path, problems):
    from train.sft.config import SFTConfig
    from train.sft.trainer import run_sft

    fmt = load_config(TeachConfig, None, []).format
    more = problems + generate_problems("linear", 4, seed=3, split="test")
    rows, _ = demo_rows([explanation(p, t) for p, t in zip(more, reference_explanations(more, "coat"))], fmt, "satori")
    assert len(rows) == len(more)
    path = tmp_path / "demos.jsonl"
    atomic_write_jsonl(path, rows)
    config = load_config(SFTConfig, None, [f"run_dir={tmp_path / 'sft'}", f"data.path={path}", "data.val_size=2",
                                           "model.tiny.vocab_size=400", "model.tiny.hidden_size=64",
                                           "model.tiny.num_heads=1", "max_steps=1", "train.batch_size=4",
                                           "threads=1", "eval.num_generations=0", "checkpoint_every=1", "tracking.tensorboard=false"])
    metrics = run_sft(config, progress=False)
    assert (tmp_path / "sft" / "model" / "config.json").is_file()
    assert metrics["eval/loss"] > 0
    assert len(list(read_jsonl(path))) == len(rows)
