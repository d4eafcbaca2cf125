import pytest

from satori.io import DataError
from satori.problems import ColumnMap, load_problems, normalize_gold


@pytest.mark.parametrize("name, rows, first_gold", [
    ("math500", 500, r"\left( 3, \frac{\pi}{2} \right)"),
    ("gsm8k_test", 1319, "18"),
    ("aime24", 30, "204"),
    ("amc23", 40, "27"),
    ("olympiadbench", 675, "2"),
])
def test_shared_benchmarks_load(benchmarks_dir, name, rows, first_gold):
    problems = load_problems(benchmarks_dir / f"{name}.jsonl")
    assert len(problems) == rows
    assert problems[0].gold == first_gold
    assert len({p.id for p in problems}) == rows


def test_gold_formats():
    assert normalize_gold("Janet ... so 18.\n#### 1,080") == "1,080"
    assert normalize_gold(27.0) == "27" and normalize_gold(2.5) == "2.5"
    assert normalize_gold("025") == "025"
    assert normalize_gold(["$x=1$", "$x=2$"]) == ["x=1", "x=2"]
    assert normalize_gold(["$5$"]) == "5"


def test_multi_answer_rows(benchmarks_dir):
    problems = load_problems(benchmarks_dir / "olympiadbench.jsonl", ColumnMap(meta=["is_multiple_answer"]))
    multi = [p for p in problems if p.meta["is_multiple_answer"]]
    assert len(multi) == 94
    assert multi[0].gold == "(1,8,19), (2,7,13), (4,5,7)"


def test_column_mapping_and_bad_rows(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"q": "1+1?", "a": 2}\n{"q": "", "a": 3}\n{"q": "2+2?"}\n{"q": "3+3?", "a": "6"}\n')
    columns = ColumnMap(question="q", answer="a")
    with pytest.raises(DataError, match=r"p.jsonl:2: empty or missing question"):
        load_problems(path, columns)
    warnings = []
    problems = load_problems(path, columns, on_bad="skip", warnings=warnings)
    assert [p.gold for p in problems] == ["2", "6"]
    assert [w.split(": ")[0][-4:] for w in warnings] == ["nl:2", "nl:3"]
    assert "no answer" in warnings[1]


def test_parquet_through_datasets(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"problem": "What is 2+3?", "expected_answer": "5"}]).to_parquet(tmp_path / "p.parquet")
    (problem,) = load_problems(tmp_path / "p.parquet")
    assert problem.question == "What is 2+3?" and problem.gold == "5"


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(DataError, match="problem file not found"):
        load_problems(tmp_path / "nope.jsonl")


def test_a_hub_name_goes_to_the_hub_and_a_missing_path_is_a_missing_file(tmp_path, monkeypatch):
    from satori.problems import looks_local

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert not looks_local("nvidia/OpenMathInstruct-2") and not looks_local("gsm8k")
    assert all(looks_local(p) for p in ("runs/demos", "a/b/c", "./x", "/abs/x", "x.parquet"))
    with pytest.raises(DataError, match="Satori_RL_data: no such local file, and the hub dataset could not be loaded"):
        load_problems("Satori-reasoning/Satori_RL_data")   # offline in the tests
