"""Benchmark loaders on the shared local copies: row counts, gold formats, metadata, custom sets."""

from __future__ import annotations

import json

import pytest

from satori.problems import ColumnMap

from eval.benchmarks import BENCHMARKS, load_benchmark


@pytest.mark.parametrize("name,rows", [("math500", 500), ("gsm8k", 1319), ("aime24", 30), ("amc23", 40),
                                       ("olympiadbench", 675)])
def test_every_row_loads_with_unique_ids(benchmarks_dir, name, rows):
    problems = load_benchmark(name, data_dir=str(benchmarks_dir))
    assert len(problems) == rows
    assert len({p.id for p in problems}) == rows
    assert all(p.source == name and p.question.strip() and p.gold for p in problems)


def test_gold_formats(benchmarks_dir):
    data = str(benchmarks_dir)
    gsm8k = load_benchmark("gsm8k", data_dir=data)
    assert gsm8k[0].gold == "18" and "####" in gsm8k[0].solution      # text after ####
    assert any(p.gold == "2,125" for p in gsm8k)                       # thousands separators kept
    aime = load_benchmark("aime24", data_dir=data)
    assert "025" in [p.gold for p in aime]                             # leading zeros kept
    amc = load_benchmark("amc23", data_dir=data)
    assert amc[0].gold == "27"                                         # float 27.0 -> "27"
    olympiad = load_benchmark("olympiadbench", data_dir=data)
    assert olympiad[0].gold == "2"                                     # ["$2$"] -> "2"
    multi = [p for p in olympiad if p.meta["is_multiple_answer"]]
    assert len(multi) == 94
    assert multi[0].gold == "(1,8,19), (2,7,13), (4,5,7)"


def test_math500_keeps_subject_and_level(benchmarks_dir):
    problems = load_benchmark("math500", data_dir=str(benchmarks_dir), limit=5)
    assert len(problems) == 5
    assert problems[0].id == "test/precalculus/807.json"
    assert problems[0].meta == {"subject": "Precalculus", "level": 2}
    assert BENCHMARKS["math500"].group_by == ("subject", "level")


@pytest.mark.slow
def test_custom_sets_with_column_mapping(tmp_path):
    rows = [{"q": "1+1?", "ans": 2.0, "topic": "add"}, {"q": "2*3?", "ans": "6", "topic": "mul"}]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = ColumnMap(question="q", answer="ans", meta=["topic"])
    problems = load_benchmark("mine", path=str(jsonl), columns=columns)
    assert [(p.id, p.question, p.gold, p.meta) for p in problems] == [
        ("mine-0", "1+1?", "2", {"topic": "add"}), ("mine-1", "2*3?", "6", {"topic": "mul"})]
    import pandas as pd

    parquet = tmp_path / "mine.parquet"
    pd.DataFrame({"q": ["1+1?", "2*3?"], "ans": [2.0, 6.0], "topic": ["add", "mul"]}).to_parquet(parquet)
    problems = load_benchmark("mine", path=str(parquet), columns=columns)
    assert [(p.gold, p.meta) for p in problems] == [("2", {"topic": "add"}), ("6", {"topic": "mul"})]


def test_clear_errors(tmp_path, benchmarks_dir):
    with pytest.raises(ValueError, match="unknown benchmark 'mystery'"):
        load_benchmark("mystery")
    with pytest.raises(FileNotFoundError, match="fix data_dir"):
        load_benchmark("gsm8k", data_dir=str(tmp_path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answer": "1"}\n{"question": "", "answer": "2"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_benchmark("bad", path=str(bad))


def test_procedural_held_out_sets_are_seeded_test_split_problems():
    from data_synthesis.families import split_of

    problems = load_benchmark("procedural:arith", limit=8)
    assert len(problems) == 8 and sorted({p.meta["difficulty"] for p in problems}) == [0, 1, 2, 3]
    assert all(split_of(f"arith|{p.question}") == "test" for p in problems)
    assert [p.id for p in load_benchmark("procedural:arith", limit=8)] == [p.id for p in problems]
    mixed = load_benchmark("procedural:arith,linear:0", limit=4)
    assert {(p.meta["family"], p.meta["difficulty"]) for p in mixed} == {("arith", 0), ("linear", 0)}
    linear = load_benchmark("procedural:linear:2", limit=3)
    assert {p.meta["difficulty"] for p in linear} == {2} and all(p.source == "procedural:linear:2" for p in linear)
    with pytest.raises(ValueError, match="FAMILY in"):
        load_benchmark("procedural:calculus")
