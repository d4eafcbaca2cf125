"""Grouped-query attention in the transformers engine: same numbers as transformers' sdpa, no KV copies."""

from __future__ import annotations

import copy

import pytest
import torch
import transformers.integrations.sdpa_attention as sdpa_module

from satori.engines.attention import NAME, use_grouped_sdpa
from satori.engines.base import SamplingParams
from satori.engines.hf import HFEngine
from satori.tiny import build_model


@pytest.fixture(scope="module")
def grouped_model(tiny_tokenizer):
    """4 query heads sharing 2 key/value heads, on transformers' default ``sdpa`` attention."""
    model = build_model(tiny_tokenizer, hidden_size=64, num_heads=4, num_kv_heads=2, seed=3).eval()
    assert model.config._attn_implementation == "sdpa"
    return model


def padded_batch(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, prompts))
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def test_engine_decodes_grouped_heads_without_repeating_the_cache(tiny_tokenizer, grouped_model, engine_prompts,
                                                                  forward_logprobs, monkeypatch):
    reference = copy.deepcopy(grouped_model)                         # stays on transformers' sdpa
    repeats = []
    original = sdpa_module.repeat_kv
    monkeypatch.setattr(sdpa_module, "repeat_kv", lambda *a: repeats.append(1) or original(*a))
    engine = HFEngine(copy.deepcopy(grouped_model), tiny_tokenizer, max_batch_size=8)
    assert engine.model.config._attn_implementation == NAME
    groups = engine.generate(engine_prompts, SamplingParams(max_new_tokens=10, temperature=0.8, n=2, seed=1))
    assert not repeats                                               # the cache was never copied per head
    for prompt, group in zip(engine_prompts, groups):
        for completion in group:
            expected = forward_logprobs(reference, prompt, completion.token_ids, 0.8)
            torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)
    ids, mask = padded_batch(engine_prompts, tiny_tokenizer.pad_token_id)
    reference(input_ids=ids, attention_mask=mask)
    assert repeats                                                   # transformers' sdpa copies on padded rows


def test_grouped_attention_matches_sdpa_forward_and_backward_on_padded_rows(tiny_tokenizer, grouped_model,
                                                                             engine_prompts):
    ids, mask = padded_batch(engine_prompts, tiny_tokenizer.pad_token_id)
    switched = copy.deepcopy(grouped_model)
    assert use_grouped_sdpa(switched)
    outputs = []
    for model in (grouped_model, switched):
        model.zero_grad()
        logits = model(input_ids=ids, attention_mask=mask).logits
        (logits * mask[..., None]).square().mean().backward()
        outputs.append((logits.detach(), model.model.layers[0].self_attn.k_proj.weight.grad.clone()))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], atol=1e-5, rtol=1e-5)


def test_models_without_grouped_heads_keep_their_attention(tiny_tokenizer, tiny_model):
    model = copy.deepcopy(tiny_model)
    assert not use_grouped_sdpa(model)
    assert model.config._attn_implementation == "sdpa"
