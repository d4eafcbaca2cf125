"""The reward model's label set: sampled, graded, resumable after a kill, readable by `datasets`."""

from __future__ import annotations

import json

import pytest

from satori.io import DataError
from satori.problems import Problem
from train.rm.labels import (LabelledProblem, build_labels, labelled_points, preference_pairs, read_labels,
                             spread_order)


@pytest.fixture(scope="module")
def engine(tiny_model, tiny_tokenizer):
    from satori.engines.hf import HFEngine

    return HFEngine(tiny_model, tiny_tokenizer, max_batch_size=16)


PROBLEMS = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(5)]


def build(path, engine, tokenizer, problems=PROBLEMS):
    return build_labels(path, problems, engine, tokenizer, "satori", samples=3, max_new_tokens=6, temperature=1.0,
                        seed=7, chunk=2, progress=False)


@pytest.mark.slow
def test_build_resume_after_a_kill_writes_the_same_file(tmp_path, engine, tiny_tokenizer):
    whole = build(tmp_path / "whole.jsonl", engine, tiny_tokenizer)
    rows = read_labels(whole)
    assert [r.id for r in rows] == ["p0", "p1", "p4", "p2", "p3"]      # chunks in spread order: 0, 2, 1
    assert all(len(r.samples) == 3 and set(r.samples[0]) == {"text", "correct", "status", "answer", "finish_reason"}
               for r in rows)
    lines = whole.read_text().splitlines(keepends=True)
    killed = tmp_path / "killed.jsonl"
    killed.write_text(lines[0] + lines[1][: len(lines[1]) // 2])       # one row, then a torn one
    build(killed, engine, tiny_tokenizer)
    assert killed.read_text() == whole.read_text()

    import datasets

    table = datasets.load_dataset("json", data_files=str(whole), split="train")
    assert table.num_rows == 5 and table[2]["id"] == "p4" and len(table[2]["samples"]) == 3


def test_pairs_and_points_from_hand_rows():
    rows = [LabelledProblem("a", "qa", "1", [{"text": "a1", "correct": True}, {"text": "a2", "correct": False},
                                             {"text": "a3", "correct": False}]),
            LabelledProblem("b", "qb", "2", [{"text": "b1", "correct": True}, {"text": "b2", "correct": True}])]
    assert preference_pairs(rows, 0, seed=0) == [("qa", "a1", "a2"), ("qa", "a1", "a3")]
    capped = preference_pairs(rows, 1, seed=0)
    assert len(capped) == 1 and capped[0][:2] == ("qa", "a1")
    assert labelled_points(rows) == [("qa", "a1", 1.0), ("qa", "a2", 0.0), ("qa", "a3", 0.0), ("qb", "b1", 1.0),
                                     ("qb", "b2", 1.0)]


def test_a_row_without_samples_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q", "samples": []}) + "\n"
                    + json.dumps({"id": "b", "question": "q"}) + "\n")
    with pytest.raises(DataError, match=r"labels.jsonl:2: a label row needs id, question and samples"):
        read_labels(path)


def test_spread_order_visits_every_chunk_once_and_halves_first():
    assert spread_order(8) == [0, 4, 2, 6, 1, 5, 3, 7]
    assert sorted(spread_order(13)) == list(range(13)) and spread_order(1) == [0]
