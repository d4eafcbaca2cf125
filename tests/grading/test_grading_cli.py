"""`satori grade` end to end through satori.cli.main: outputs, summary, malformed rows, --skip-bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satori.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grade_example.jsonl"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_grade_example_file(tmp_path, capsys, pool):
    out = tmp_path / "graded.jsonl"
    assert main(["grade", str(EXAMPLE), "--out", str(out), "--workers", "2"]) == 0
    rows = _read(out)
    inputs = _read(EXAMPLE)
    assert len(rows) == len(inputs)
    for row, original in zip(rows, inputs):
        assert {k: row[k] for k in original} == original
        assert set(row) == set(original) | {"correct", "status", "extracted", "rule"}
        assert row["correct"] is (row["status"] == "correct")
    status = {row["id"]: row["status"] for row in rows}
    assert status[2] == "correct" and status[10] == "incorrect" and status[14] == "incorrect"
    assert rows[0]["extracted"] == "$18"
    summary = capsys.readouterr().out
    correct = sum(row["correct"] for row in rows)
    assert f"correct {correct:>8}".replace(" ", "") in summary.replace(" ", "")
    assert f"{correct / len(rows):.2%}" in summary
    assert [p.name for p in tmp_path.iterdir()] == ["graded.jsonl"]  # atomic write left no temp file


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


BAD_LINES = [
    json.dumps({"gold": "2", "pred": "\\boxed{2}"}).encode(),
    b'{"gold": "3", "pred": ',  # truncated JSON
    json.dumps({"gold": "1", "pred": "1"}).encode()[:-1] + b'\xff"}',  # invalid UTF-8
    json.dumps({"gold": "4"}).encode(),  # missing pred
    b"[1, 2]",  # not an object
    json.dumps({"gold": "5", "pred": "The answer is 6."}).encode(),
]


@pytest.mark.parametrize("bad_line", [2, 3, 4, 5])
def test_malformed_row_names_file_and_line(tmp_path, bad_line):
    lines = BAD_LINES[:1] + [BAD_LINES[bad_line - 1]]
    source = _write_lines(tmp_path / "in.jsonl", lines)
    with pytest.raises(SystemExit) as error:
        main(["grade", str(source), "--out", str(tmp_path / "out.jsonl")])
    assert f"{source}:2:" in str(error.value) and "--skip-bad" in str(error.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_skip_bad_records_invalid_rows(tmp_path, capsys, pool):
    source = _write_lines(tmp_path / "in.jsonl", BAD_LINES)
    out = tmp_path / "out.jsonl"
    assert main(["grade", str(source), "--out", str(out), "--skip-bad", "--workers", "2", "--timeout", "3"]) == 0
    rows = _read(out)
    assert [row["status"] for row in rows] == ["correct", "invalid", "invalid", "invalid", "invalid", "incorrect"]
    assert rows[3]["gold"] == "4" and "missing key(s) pred" in rows[3]["error"]
    assert rows[1]["line"] == 2 and f"{source}:2:" in rows[1]["error"]
    assert rows[5]["extracted"] == "6"
    summary = capsys.readouterr().out
    assert "invalid" in summary and "50.00%" in summary  # accuracy over the 2 gradable rows


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["grade", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.jsonl")])
    with pytest.raises(SystemExit, match="--workers"):
        main(["grade", str(EXAMPLE), "--out", str(tmp_path / "o.jsonl"), "--workers", "0"])
