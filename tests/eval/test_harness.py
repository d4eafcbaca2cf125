"""`satori eval` end to end on tiny checkpoints through the real CLI, the real HF engine and grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satori.cli import main
from satori.config import ConfigError, load_config
from satori.engines.base import Completion, RolloutEngine
from satori.grading import VerifierPool
from satori.problems import Problem

from eval.config import EvalConfig
from eval.harness import PendingProblem, generate_and_grade, read_samples
from eval.summary import summarize_benchmark

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoints(tiny_tokenizer, tmp_path_factory):
    """Two tiny Qwen2 checkpoints ("base" and "sft": different seeds) saved as HF folders."""
    from satori.tiny import build_model

    folders = {}
    for name, seed in (("base", 0), ("sft", 1)):
        folder = tmp_path_factory.mktemp(name)
        build_model(tiny_tokenizer, seed=seed).save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)
        folders[name] = str(folder)
    return folders


@pytest.fixture
def count_generate(monkeypatch):
    """Counts prompts the HF engine is asked to generate for (the real generate still runs)."""
    from satori.engines.hf import HFEngine

    prompts: list[int] = []
    real = HFEngine.generate

    def counting(self, batch, params):
        prompts.append(len(batch))
        return real(self, batch, params)

    monkeypatch.setattr(HFEngine, "generate", counting)
    return prompts


def eval_args(checkpoints, benchmarks_dir, out, *extra):
    return ["eval", "--model", f"base={checkpoints['base']}", "--model", f"sft={checkpoints['sft']}",
            "--benchmarks", "gsm8k,math500", "--data-dir", str(benchmarks_dir), "--limit", "3",
            "--max-new-tokens", "8", "--out", str(out), "--no-progress", *extra]


@pytest.mark.slow
def test_two_checkpoints_one_table_and_resume(checkpoints, benchmarks_dir, tmp_path, count_generate, capsys):
    out = tmp_path / "eval"
    assert main(eval_args(checkpoints, benchmarks_dir, out)) == 0
    assert sum(count_generate) == 2 * 6                          # 2 models x (3 gsm8k + 3 math500)
    table = (out / "table.md").read_text()
    assert "| benchmark | base | sft |" in table
    assert "| math500 | subject=Algebra |" in table and "| math500 | level=2 |" in table
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Trajectories: [samples.html](samples.html)" in table
    page = (out / "samples.html").read_text()
    shown = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert [s["name"] for s in shown["sources"]] == ["base", "sft"] and len(shown["samples"]) == 12
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["results"]) == {"base", "sft"}
    for model in ("base", "sft"):
        rows = read_samples(out / model / "samples.jsonl")
        assert len(rows) == 6 and len({r["key"] for r in rows}) == 6
        row = rows[0]
        assert row["benchmark"] == "gsm8k" and row["problem_id"] == "gsm8k-0" and row["sample"] == 0
        assert row["prompt"].startswith("Solve the following math problem") and row["gold"] == "18"
        assert row["status"] in ("correct", "incorrect", "unparseable", "timeout")
        assert 1 <= row["tokens"] <= 8
        gsm8k = summary["results"][model]["gsm8k"]
        assert gsm8k["problems"] == 3 and gsm8k["samples"] == 3
        assert sum(gsm8k["status"].values()) == 3
        assert gsm8k["pass@1"] == sum(r["correct"] for r in rows if r["benchmark"] == "gsm8k") / 3
        assert summary["results"][model]["math500"]["groups"]["level"]

    # A rerun finds every sample done: no generation at all, same rows.
    before = (out / "base" / "samples.jsonl").read_bytes()
    assert main(eval_args(checkpoints, benchmarks_dir, out)) == 0
    assert sum(count_generate) == 12
    assert (out / "base" / "samples.jsonl").read_bytes() == before

    # Interrupted mid-write: two whole rows kept plus a torn line. Only the 4 lost samples are redone.
    lines = before.decode().splitlines(keepends=True)
    (out / "base" / "samples.jsonl").write_text("".join(lines[:2]) + lines[2][:30])
    assert main(eval_args(checkpoints, benchmarks_dir, out)) == 0
    assert sum(count_generate) == 12 + 4
    rows = read_samples(out / "base" / "samples.jsonl")
    assert sorted(r["key"] for r in rows) == sorted(json.loads(line)["key"] for line in lines)
    # Greedy decoding: the regenerated samples equal the originals.
    original = {json.loads(line)["key"]: json.loads(line)["completion"] for line in lines}
    assert all(original[r["key"]] == r["completion"] for r in rows)

    # Different decoding settings into the same folder are refused, not mixed.
    capsys.readouterr()
    assert main(eval_args(checkpoints, benchmarks_dir, out, "--max-new-tokens", "9")) == 2
    assert "different sampling" in capsys.readouterr().err


@pytest.mark.slow
def test_sampled_run_reports_pass_at_k_and_maj_at_k(checkpoints, benchmarks_dir, tmp_path):
    out = tmp_path / "sampled"
    args = ["eval", "--model", checkpoints["base"], "--benchmarks", "amc23", "--data-dir", str(benchmarks_dir),
            "--limit", "2", "--max-new-tokens", "6", "--n", "3", "--temperature", "1.0", "--k", "1,3",
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    label = Path(checkpoints["base"]).name
    result = json.loads((out / "summary.json").read_text())["results"][label]["amc23"]
    assert result["samples"] == 6
    assert set(result["pass@k"]) == {"1", "3"} and set(result["maj@k"]) == {"3"}
    assert 0.0 <= result["pass@k"]["1"] <= result["pass@k"]["3"] <= 1.0
    rows = read_samples(out / label / "samples.jsonl")
    assert sorted(r["sample"] for r in rows) == [0, 0, 1, 1, 2, 2]


class ScriptedEngine(RolloutEngine):
    """Returns fixed completions (stands in for a model that writes COAT; the harness is under test)."""

    def __init__(self, texts):
        self.texts = texts

    def generate(self, prompts, params):
        return [[Completion(p, list(range(len(self.texts[i]) // 4)), None, self.texts[i], "stop")]
                for i, p in enumerate(prompts)]

    def update_weights(self, state_dict):
        pass


@pytest.mark.slow
def test_self_correction_through_the_real_grader():
    texts = [
        "<|continue|>3 + 4 = 8, so \\boxed{8}.<|reflect|>8 - 4 = 4, wrong.<|continue|>So \\boxed{7}",  # i->c
        "<|continue|>3 + 4 = \\boxed{7}.<|reflect|>7 - 4 = 3. Right, \\boxed{7}",                     # c->c
        "<|continue|>\\boxed{7}<|reflect|>Maybe 6.<|explore|>The answer is \\boxed{6}",               # c->i
        "<|continue|>Add them.<|reflect|>Check.<|continue|>\\boxed{\\frac{14}{2}}",                   # none->c
        "<|continue|>3 + 4 = 7. \\boxed{7.0}",                                                        # no reflect
    ]
    problems = [Problem(id=str(i), question="3 + 4?", gold="7", meta={"level": i % 2}) for i in range(5)]
    batch = [PendingProblem("toy", p, "Q", [1, 2], [0]) for p in problems]
    config = load_config(EvalConfig, None, ["models=[{path: x}]", "benchmarks=[gsm8k]", "sampling.max_new_tokens=8"])
    with VerifierPool(workers=1, timeout=5.0) as grader:
        rows = generate_and_grade(ScriptedEngine(texts), batch, config, grader, "scripted")
    assert [r["correct"] for r in rows] == [True, True, False, True, True]
    assert [r["before_reflect"] and r["before_reflect"]["extracted"] for r in rows] == ["8", "7", "7", None, None]
    assert rows[3]["before_reflect"] == {"extracted": None, "correct": False, "status": "no_answer"}
    summary = summarize_benchmark(rows, problems, n=1, ks=[1], group_by=("level",))
    assert summary["self_correction"] == {"correct->correct": 1, "correct->incorrect": 1,
                                          "incorrect->correct": 2, "incorrect->incorrect": 0}
    assert summary["pass@1"] == pytest.approx(0.8)
    assert summary["reflect_share"] == pytest.approx(0.8) and summary["explore_share"] == pytest.approx(0.2)
    assert summary["groups"]["level"] == {"0": {"accuracy": 2 / 3, "count": 3}, "1": {"accuracy": 1.0, "count": 2}}


@pytest.mark.parametrize("name", ["eval_math.yaml", "eval_smollm2.yaml"])
def test_shipped_configs_load(name):
    config = load_config(EvalConfig, ROOT / "configs" / name, section="eval")
    assert config.sampling.temperature == 0.0 and config.models


def test_pipeline_yaml_section_and_config_errors(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("sft: {lr: 1.0e-5}\neval:\n  models: [{name: a, path: x}]\n  benchmarks: [aime24]\n  limit: 4\n")
    config = load_config(EvalConfig, path, ["eval.sampling.max_new_tokens=64"], section="eval")
    assert (config.benchmarks, config.limit, config.sampling.max_new_tokens) == (["aime24"], 4, 64)
    assert config.sampling.temperature == 0.0            # a partial section keeps the greedy default
    with pytest.raises(ConfigError, match="key 'sampling'.*set temperature > 0"):
        load_config(EvalConfig, path, ["sampling.n=4"], section="eval")
    with pytest.raises(ConfigError, match="unknown benchmark 'mystery'"):
        load_config(EvalConfig, path, ["benchmarks=[mystery]"], section="eval")
    with pytest.raises(ConfigError, match="ks"):
        load_config(EvalConfig, path, ["ks=[1,8]", "sampling.n=4", "sampling.temperature=0.6"], section="eval")
