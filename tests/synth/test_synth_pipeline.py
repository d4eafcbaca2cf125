"""The synthesis pipeline with scripted agents: valid, verified demos in the configured kinds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_synthesis.cli import check_resume, synthesize
from data_synthesis.config import SynthConfig
from data_synthesis.families import export_jsonl, generate_problems
from satori import coat
from satori.config import ConfigError, load_config, save_config
from satori.grading import VerifierPool
from satori.io import DataError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def procedural_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = load_config(SynthConfig, ROOT / "configs" / "synth_procedural.yaml",
                         [f"run_dir={out}", "source.procedural.n=400", "progress=false", "max_rounds=3",
                          "kinds={correct_verified: 0.5, error_reflect_explore: 0.3, multi_round: 0.2}"])
    stats = synthesize(config)
    demos = [json.loads(line) for line in (out / "demos.jsonl").read_text().splitlines()]
    return config, stats, demos


def test_every_demo_is_valid_coat_and_verified(procedural_run):
    _, stats, demos = procedural_run
    assert stats["demos"] == len(demos) == 400 and stats["rejections"] == {}
    with VerifierPool(workers=1) as pool:
        verdicts = pool.verify_batch([(d["coat"], d["gold"]) for d in demos])
    assert all(v.correct for v in verdicts)
    for demo in demos:
        steps = coat.parse(demo["coat"])
        assert coat.final_answer(demo["coat"]) == demo["gold"]
        actions = [s.name for s in steps]
        if demo["kind"] == "correct_verified":
            assert actions[-1] == "reflect" and "explore" not in actions and demo["rounds"] == 0
        else:
            assert actions.count("reflect") == actions.count("explore") == demo["rounds"] >= 1
            assert len(demo["mistakes"]) == demo["rounds"]
            assert (demo["kind"] == "multi_round") == (demo["rounds"] >= 2)
        assert demo["template"] == "satori" and demo["prompt"].endswith(f"Problem: {demo['problem']}\n")
    assert [d["id"] for d in demos] == sorted(d["id"] for d in demos)


def test_kinds_follow_the_configured_proportions(procedural_run):
    _, stats, demos = procedural_run
    assert stats["planned_kinds"] == {"correct_verified": 200, "error_reflect_explore": 120, "multi_round": 80}
    kinds = stats["kinds"]
    assert kinds["correct_verified"] == 200
    assert abs(kinds["multi_round"] - 80) <= 4 and sum(kinds.values()) == 400
    assert max(len(d["coat"]) for d in demos if d["kind"] == "correct_verified") < 300


def test_every_mistake_kind_appears(procedural_run):
    _, _, demos = procedural_run
    seen = {m for d in demos for m in d["mistakes"]}
    assert seen == {"slip", "carry", "sign", "precedence", "denominator"}


def test_demo_lengths_suit_a_tiny_model(procedural_run):
    _, _, demos = procedural_run
    short = [len(d["coat"]) for d in demos if d["kind"] != "multi_round"]
    assert sum(short) / len(short) < 260


@pytest.mark.slow
def test_bad_problem_rows_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "problems.jsonl"
    good = generate_problems("linear", 2, seed=0)
    rows = [{"question": good[0].question, "answer": good[0].gold},
            {"question": "  ", "answer": "3"},
            {"question": "What is 2 + 2?"},
            {"question": "What is the value?", "answer": "\\frac{1}{"},
            {"question": good[1].question, "answer": good[1].gold}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    base = [f"run_dir={tmp_path / 'out'}", "source.kind=file", f"source.file.path={path}", "progress=false",
            "agents.verifier_workers=1", "agents.verifier_warm_up=false"]
    with pytest.raises(DataError, match=r"problems.jsonl:2: empty or missing question"):
        synthesize(load_config(SynthConfig, None, base + ["source.on_bad=error"]))
    stats = synthesize(load_config(SynthConfig, None, base + ["source.on_bad=skip"]))
    failures = [json.loads(line) for line in (tmp_path / "out" / "failures.jsonl").read_text().splitlines()]
    messages = "\n".join(f["error"] for f in failures)
    assert stats["bad_input_rows"] == 4
    assert "problems.jsonl:2: empty or missing question" in messages
    assert "problems.jsonl:3: no answer" in messages
    assert "problems.jsonl:4: gold answer '\\\\frac{1}{' is not parseable" in messages
    assert "problems.jsonl:6: malformed row" in messages
    # file rows carry no structure, so the scripted generator declines them, and says so
    assert stats["problems"] == 2 and stats["rejections"] == {"agent_error": 2}


def test_math_style_and_expected_answer_layouts(tmp_path):
    from data_synthesis.config import SourceConfig
    from data_synthesis.sources import load_source

    math = tmp_path / "math.jsonl"
    math.write_text(json.dumps({"problem": "Halve 1.", "solution": "Half of 1 is $\\boxed{\\frac{1}{2}}$."}) + "\n"
                    + json.dumps({"problem": "No box.", "solution": "It is 3."}) + "\n")
    expected = tmp_path / "expected.jsonl"
    expected.write_text(json.dumps({"problem": "1 + 1?", "expected_answer": "2"}) + "\n")
    bad: list[str] = []
    with VerifierPool(workers=1, warm_up=False) as pool:
        config = load_config(SourceConfig, None, ["kind=file", f"file.path={math}", "file.answer=solution",
                                                  "file.answer_from_boxed=true"])
        (problem,) = load_source(config, 0, pool, bad)
        assert problem.gold == "\\frac{1}{2}" and problem.solution.startswith("Half of 1")
        assert bad == [f"{math}:2: no \\boxed{{}} answer in the solution text (answer_from_boxed is set)"]
        config = load_config(SourceConfig, None, ["kind=file", f"file.path={expected}"])
        assert [(p.question, p.gold) for p in load_source(config, 0, pool, bad)] == [("1 + 1?", "2")]


def test_procedural_export_feeds_the_scripted_agents(tmp_path):
    path = tmp_path / "linear_test.jsonl"
    export_jsonl(generate_problems("linear", 30, seed=0, split="test", difficulty=2), path)
    stats = synthesize(load_config(SynthConfig, None, [
        f"run_dir={tmp_path / 'out'}", "source.kind=file", f"source.file.path={path}",
        "source.file.meta=[family, difficulty, spec]", "progress=false", "agents.verifier_workers=1",
        "agents.verifier_warm_up=false"]))
    assert stats["demos"] == 30


def test_shipped_configs_load_and_bad_values_are_refused():
    procedural = load_config(SynthConfig, ROOT / "configs" / "synth_procedural.yaml", section="synth")
    assert procedural.agents.generator == "scripted"
    openai = load_config(SynthConfig, ROOT / "configs" / "synth_gsm8k_openai.yaml", section="synth")
    assert openai.agents.backends[openai.agents.generator].kind == "openai"
    with pytest.raises(ConfigError, match="agents.generator.*neither 'scripted' nor a backend"):
        load_config(SynthConfig, None, ["agents.generator=gpt"])
    with pytest.raises(ConfigError, match="unknown kinds"):
        load_config(SynthConfig, None, ["kinds={correct: 1.0}"])
    with pytest.raises(ConfigError, match="multi_round demonstrations need max_rounds >= 2"):
        load_config(SynthConfig, None, ["max_rounds=1"])
    with pytest.raises(ConfigError, match="agents.backends.teacher.model"):
        load_config(SynthConfig, None, ["agents.backends={teacher: {kind: openai}}"])
    with pytest.raises(ConfigError, match="source.procedural.families"):
        load_config(SynthConfig, None, ["source.procedural.families={geometry: 1.0}"])


def test_resuming_with_other_settings_is_refused(tmp_path):
    config = load_config(SynthConfig, None, [f"run_dir={tmp_path}"])
    save_config(config, tmp_path / "config.yaml")
    (tmp_path / "progress.jsonl").write_text("")
    check_resume(load_config(SynthConfig, None, [f"run_dir={tmp_path}", "progress=false", "chunk_size=7"]))
    with pytest.raises(ConfigError, match="seed, source differ from its config.yaml"):
        check_resume(load_config(SynthConfig, None, [f"run_dir={tmp_path}", "seed=1", "source.procedural.n=5"]))
