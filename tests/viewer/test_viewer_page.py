"""`satori view` without a browser: reading the three kinds of trajectory files, the page's data block
(escaping), the links from the run and eval reports, and a 50k-sample page's build time and size."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import pytest

from satori.io import DataError
from satori.viewer import cli
from satori.viewer.page import embed_json, render_page, write_page
from satori.viewer.sources import find_files, load

DATA_OPEN = '<script type="application/json" id="data">'
MALICIOUS = [
    "<script>document.title = 'pwned'; window.__pwned = 1;</script>",
    "<img src=x onerror=\"window.__pwned = 2; document.title = 'pwned'\">",
    "</script><script>window.__pwned = 3;</script>",
    "<!-- <script> <b>broken <i tags & &amp; </textarea> \u2028 \\u003c",
]


def page_data(html: str) -> dict:
    """The JSON data block of a viewer page."""
    return json.loads(html.split(DATA_OPEN, 1)[1].split("</script>", 1)[0])


def eval_row(model: str, benchmark: str, pid: str, sample: int, completion: str, correct: bool,
             before: bool | None = None, meta: dict | None = None) -> dict:
    """A row as ``eval.harness.generate_and_grade`` writes it."""
    return {"key": json.dumps([benchmark, pid, sample]), "model": model, "benchmark": benchmark, "problem_id": pid,
            "sample": sample, "prompt": f"Solve it.\nProblem: {pid}?\n", "completion": completion, "extracted": "1",
            "rule": "boxed", "gold": "1", "correct": correct, "status": "correct" if correct else "incorrect",
            "tokens": 9, "finish_reason": "stop", "actions": {},
            "before_reflect": None if before is None else {"extracted": "1", "correct": before, "status": "x"},
            "meta": meta or {}}


def rollout_row(step: int, status: int, completion: str, correct: bool) -> dict:
    """A row as ``train.rl.sample_log.RolloutSampleLog`` writes it."""
    return {"step": step, "problem_id": f"p{step}", "question": "Compute 1 + 0.", "gold": "1",
            "prompt_kind": "restart" if status else "plain", "reflect_status": status,
            "prefix": "<|continue|>1 + 0 = 2. \\boxed{2}<|reflect|>" if status else "", "completion": completion,
            "extracted": "1" if correct else "2", "status": "correct" if correct else "incorrect", "correct": correct,
            "reward": {"reward/total": 0.5 if correct else -1.0, "reward/correctness": 0.0}, "tokens": 7,
            "finish_reason": "stop"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_embedded_json_has_no_markup_characters_and_round_trips():
    data = {"t": MALICIOUS, "k": "a & b > c"}
    embedded = embed_json(data)
    assert not set("<>&") & set(embedded)
    assert json.loads(embedded) == data


def test_malicious_completions_stay_inside_the_data_block(tmp_path):
    rows = [eval_row("sft", "gsm8k", f"q{i}", 0, "<|continue|>" + text, False) for i, text in enumerate(MALICIOUS)]
    html = render_page(load([write_jsonl(tmp_path / "sft" / "samples.jsonl", rows)]), title="<b>t</b>")
    for text in MALICIOUS:
        assert text not in html
    assert html.lower().count("</script") == 2              # the data block's and the page script's own
    assert html.count("<script") == 2 and "<title>&lt;b&gt;t&lt;/b&gt;</title>" in html
    assert [s["t"] for s in page_data(html)["samples"]] == ["<|continue|>" + t for t in MALICIOUS]
    script = html.rsplit("<script>", 1)[1]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_eval_rows_carry_verdict_self_correction_groups_and_pairing_keys(tmp_path):
    from eval.metrics import self_correction_counts

    rows = [eval_row("sft", "math500", "a", 0, "<|continue|>x<|reflect|>y", True, before=False,
                     meta={"subject": "Algebra", "level": 2, "unique_id": "u1", "spec": [1, 2]}),
            eval_row("sft", "math500", "b", 0, "<|continue|>x<|reflect|>y<|explore|>z", False, before=True),
            eval_row("sft", "math500", "c", 0, "<|continue|>x", True)]
    table = load([write_jsonl(tmp_path / "samples.jsonl", rows)])
    data = table.to_json()
    assert data["sources"] == [{"name": "sft", "kind": "eval", "path": str(tmp_path / "samples.jsonl")}]
    assert data["groupKeys"] == ["benchmark", "level", "subject", "unique_id"]   # the list-valued spec is no filter
    first, second, third = data["samples"]
    assert first["g"] == ["math500", "2", "Algebra", "u1"] and third["g"][1:] == [None, None, None]
    assert (first["ok"], first["r"], first["e"], first["sc"]) == (True, 1, 0, "incorrect->correct")
    assert (second["ok"], second["r"], second["e"], second["sc"]) == (False, 1, 1, "correct->incorrect")
    assert third["sc"] is None and third["rk"] == "plain" and third["pre"] == ""
    assert first["k"] == "math500\na\n0" and data["texts"][first["q"]] == rows[0]["prompt"]
    counted = self_correction_counts((r["before_reflect"]["correct"], r["correct"]) for r in rows if r["before_reflect"])
    shown = {t: sum(s["sc"] == t for s in data["samples"]) for t in counted}
    assert shown == counted                                  # the same counts as the eval report's


def test_rollout_rows_keep_the_restart_prefix_apart_and_the_reward_terms(tmp_path):
    rows = [rollout_row(1, -1, "Check: 1 + 0 = 1. \\boxed{1}", True), rollout_row(2, 1, "Fine.", False),
            rollout_row(3, 0, "<|continue|>\\boxed{1}", True)]
    samples = load([write_jsonl(tmp_path / "rl1" / "rollout_samples.jsonl", rows)]).to_json()["samples"]
    assert [s["rk"] for s in samples] == ["from incorrect", "from correct", "plain"]
    assert [s["sc"] for s in samples] == ["incorrect->correct", "correct->incorrect", None]
    assert samples[0]["pre"].endswith("<|reflect|>") and samples[0]["t"] == rows[0]["completion"]
    assert samples[0]["r"] == 0                               # the prefix's <|reflect|> is not the policy's
    assert [s["step"] for s in samples] == [1, 2, 3] and samples[0]["rw"] == rows[0]["reward"]
    assert all(s["k"] is None for s in samples)


def test_demos_are_correct_and_a_critique_round_means_a_wrong_start(tmp_path):
    rows = [{"id": "d1", "source": "procedural/arith", "problem": "Compute 1 + 1.", "gold": "2",
             "kind": "correct_verified", "coat": "<|continue|>\\boxed{2}<|reflect|>ok", "rounds": 0},
            {"id": "d2", "source": "procedural/arith", "problem": "Compute 2 + 2.", "gold": "4",
             "kind": "error_reflect_explore", "coat": "<|continue|>\\boxed{5}<|reflect|>no<|explore|>\\boxed{4}",
             "rounds": 1}]
    data = load([write_jsonl(tmp_path / "synth" / "demos.jsonl", rows)]).to_json()
    assert data["sources"][0]["name"] == "synth" and data["sources"][0]["kind"] == "demo"
    assert [(s["a"], s["ok"], s["sc"]) for s in data["samples"]] == [
        ("2", True, "correct->correct"), ("4", True, "incorrect->correct")]
    assert data["groupKeys"] == ["benchmark", "demo kind"]


def test_an_eval_folder_gives_its_models_in_the_summary_order_and_same_names_get_their_folder(tmp_path):
    for run in ("a", "b"):
        for model in ("rl1", "sft"):
            write_jsonl(tmp_path / run / "eval" / model / "samples.jsonl",
                        [eval_row(model, "gsm8k", "q", 0, "<|continue|>x", model == "rl1")])
        (tmp_path / run / "eval" / "summary.json").write_text(json.dumps({"models": {"sft": "x", "rl1": "y"}}))
    assert [p.parent.name for p in find_files(tmp_path / "a" / "eval")] == ["sft", "rl1"]
    table = load([tmp_path / "a" / "eval", tmp_path / "b" / "eval" / "rl1" / "samples.jsonl"])
    assert [s["name"] for s in table.sources] == ["sft", "a/rl1", "b/rl1"]


def test_bad_input_names_the_file_and_line(tmp_path):
    good = eval_row("sft", "gsm8k", "q", 0, "<|continue|>x", True)
    path = write_jsonl(tmp_path / "samples.jsonl", [good, {"id": 1, "text": "?"}])
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:2: not a trajectory row"):
        load([path])
    write_jsonl(path, [good, rollout_row(1, 0, "x", True)])
    with pytest.raises(DataError, match=r"samples.jsonl:2: a rollout row in a file of eval rows"):
        load([path])
    write_jsonl(path, [{**good, "correct": None, "problem_id": "q", "before_reflect": "oops"}])
    with pytest.raises(DataError, match=r"samples.jsonl:1: malformed eval row"):
        load([path])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds none of samples.jsonl"):
        load([tmp_path / "empty"])


def test_cli_writes_the_page_beside_the_data_and_reports_errors(tmp_path, capsys):
    write_jsonl(tmp_path / "eval" / "sft" / "samples.jsonl", [eval_row("sft", "gsm8k", "q", 0, "<|continue|>x", True)])
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([str(tmp_path / "eval")])) == 0
    assert "1 trajectories from sft (eval)" in capsys.readouterr().out
    assert len(page_data((tmp_path / "eval" / "samples.html").read_text())["samples"]) == 1
    assert cli.run(parser.parse_args([str(tmp_path / "missing")])) == 2
    err = capsys.readouterr().err
    assert err.startswith("satori view: ") and "missing: no such file or folder" in err
    assert cli.run(parser.parse_args([str(tmp_path / "eval"), "--page-size", "7"])) == 2


def test_the_run_report_links_the_trajectory_pages(tmp_path):
    from satori.config import load_config
    from train.pipeline_config import PipelineConfig
    from train.report import write_report

    config = load_config(PipelineConfig, Path(__file__).parents[2] / "configs" / "quickstart.yaml",
                         [f"run_dir={tmp_path}"])
    write_jsonl(tmp_path / "synth" / "demos.jsonl", [{"id": "d", "source": "s", "problem": "p", "gold": "1",
                                                      "kind": "correct_verified", "coat": "<|continue|>\\boxed{1}"}])
    write_jsonl(tmp_path / "rl1" / "rollout_samples.jsonl", [rollout_row(1, 0, "<|continue|>\\boxed{1}", True)])
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "samples.html").write_text("<!DOCTYPE html>")
    report = write_report(config, []).read_text()
    assert "## Trajectories" in report
    for link in ("eval/samples.html", "synth/samples.html", "rl1/samples.html"):
        assert f"]({link})" in report and (tmp_path / link).is_file()
    assert page_data((tmp_path / "rl1" / "samples.html").read_text())["sources"][0]["kind"] == "rollout"


def test_fifty_thousand_samples_build_fast_and_small(tmp_path):
    """50k eval samples of ~300 characters (two checkpoints, 25k problems): the page builds in seconds and
    stays near the size of its data, the prompts stored once."""
    completion = "<|continue|>" + "7 + 8 = 15, so we carry the one. " * 6 + "<|reflect|>Check. \\boxed{15}"
    paths = [write_jsonl(tmp_path / model / "samples.jsonl",
                         [eval_row(model, "gsm8k", f"q{i}", 0, completion, (i % 3 == 0) != (model == "rl"))
                          for i in range(25_000)]) for model in ("sft", "rl")]
    data_bytes = sum(p.stat().st_size for p in paths)
    start = time.perf_counter()
    table = write_page(paths, tmp_path / "big.html")
    seconds = time.perf_counter() - start
    size = (tmp_path / "big.html").stat().st_size
    assert len(table.samples) == 50_000 and len(table.texts) == 25_000
    assert seconds < 120, f"{seconds:.1f} s"   # ~3 s alone on 2 cores; CI shares them
    assert size < data_bytes, f"{size / 1e6:.1f} MB page from {data_bytes / 1e6:.1f} MB of samples"
