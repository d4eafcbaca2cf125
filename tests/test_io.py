import json
import os
import stat

import pytest

from satori.io import DataError, JsonlAppender, atomic_write_json, atomic_write_text, read_jsonl


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_write_gives_the_mode_a_plain_write_would(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "page.html", "<p>hi</p>")
        with open(tmp_path / "plain.html", "w") as handle:
            handle.write("<p>hi</p>")
    finally:
        os.umask(old)
    mode = lambda name: stat.S_IMODE((tmp_path / name).stat().st_mode)  # noqa: E731
    assert mode("page.html") == mode("plain.html") == 0o640


def test_read_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1, 2]\n{"b": \xff}\n{"c": 3}\n')
    with pytest.raises(DataError, match=r"rows.jsonl:3: malformed row \(expected a JSON object"):
        list(read_jsonl(path))
    errors = []
    rows = list(read_jsonl(path, skip_bad=True, errors=errors))
    assert rows == [(1, {"a": 1}), (5, {"c": 3})]
    assert [e.split(": ")[0].rsplit(":", 1)[1] for e in errors] == ["3", "4"]


def test_appender_repairs_torn_line_and_tracks_done(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path) as out:
        out.write({"id": "a"})
        out.write({"id": "b"})
    with open(path, "ab") as handle:
        handle.write(b'{"id": "c", "tor')  # a killed writer's half line
    out = JsonlAppender(path)
    assert out.done_keys == {"a", "b"}
    out.write({"id": "c"})
    out.close()
    assert [r["id"] for _, r in read_jsonl(path)] == ["a", "b", "c"]
