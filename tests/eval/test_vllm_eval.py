"""`satori eval --engine vllm` gives the same greedy verdicts as the transformers engine (one engine start)."""

from __future__ import annotations

import importlib.util

import pytest

# find_spec, not importorskip: collecting this file for `-m "not slow"` should not import vLLM
pytestmark = [pytest.mark.slow,  # starts vLLM
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM (the cpu or gpu extra)")]

from satori.cli import main  # noqa: E402

from eval.harness import read_samples  # noqa: E402


def test_vllm_and_hf_engines_agree_on_greedy_verdicts(tiny_tokenizer, benchmarks_dir, tmp_path):
    from satori.tiny import build_model

    folder = tmp_path / "tiny"
    build_model(tiny_tokenizer, seed=0).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    common = ["--model", f"tiny={folder}", "--benchmarks", "gsm8k,amc23", "--data-dir", str(benchmarks_dir),
              "--limit", "3", "--max-new-tokens", "12", "--no-progress"]
    assert main(["eval", *common, "--engine", "hf", "--out", str(tmp_path / "hf")]) == 0
    assert main(["eval", *common, "--engine", "vllm", "--out", str(tmp_path / "vllm"), "vllm.kv_cache_gib=0.25"]) == 0
    hf = {r["key"]: r for r in read_samples(tmp_path / "hf" / "tiny" / "samples.jsonl")}
    vllm = {r["key"]: r for r in read_samples(tmp_path / "vllm" / "tiny" / "samples.jsonl")}
    assert len(hf) == 6 and hf.keys() == vllm.keys()
    for key, row in hf.items():
        assert (vllm[key]["status"], vllm[key]["extracted"], vllm[key]["correct"]) == \
            (row["status"], row["extracted"], row["correct"]), key
        assert vllm[key]["completion"] == row["completion"], key
