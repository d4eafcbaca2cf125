"""The vLLM engine (CPU build) against transformers on the same tiny Qwen2 weights."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

pytest.importorskip("vllm")

from satori.coat import CONTINUE, REFLECT  # noqa: E402
from satori.engines.base import SamplingParams  # noqa: E402
from satori.engines.hf import HFEngine  # noqa: E402
from satori.tiny import build_model, build_tokenizer  # noqa: E402

CORPUS = ["Let me compute 12 + 30 = 42. Wait, check: 42 - 30 = 12.", "x = 3 so 2 x = 6"]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(CORPUS, vocab_size=320)


@pytest.fixture(scope="module")
def model(tokenizer):
    return build_model(tokenizer, seed=0)


@pytest.fixture(scope="module")
def engine(tokenizer, model, tmp_path_factory):
    from satori.engines.vllm_engine import VLLMEngine

    folder = tmp_path_factory.mktemp("tiny-qwen2")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with VLLMEngine(folder, tokenizer, max_model_len=256, kv_cache_gib=0.25) as engine:
        yield engine


@pytest.fixture(scope="module")
def prompts(tokenizer):
    texts = ["Problem: 12 + 30 = ?", f"x = 3 so {CONTINUE} 2 x =", "Let me check", "7"]
    long_prompt = " ".join(CORPUS * 5)  # spans full KV blocks, which the prefix cache keeps
    return [tokenizer.encode(t) for t in [*texts, long_prompt]]


def forward_logprobs(model, prompt, generated, temperature):
    """log-softmax(logits / T) of each generated token from one transformers forward pass: (L,)."""
    ids = torch.tensor([prompt + generated])
    with torch.no_grad():
        logits = model(ids).logits[0, len(prompt) - 1: -1].float()
    return torch.log_softmax(logits / temperature, -1).gather(-1, torch.tensor(generated)[:, None])[:, 0]


def steered_model(tokenizer, prompts, seed):
    """A fresh model whose two most frequent greedy tokens are replaced by ``<|reflect|>`` and EOS.

    Each replacement gets the output-embedding row of the token it replaces, scaled by 1.02, so it
    wins wherever that token led with a positive logit: completions then hold actions and stop.
    """
    model = build_model(tokenizer, seed=seed)
    greedy = HFEngine(model, tokenizer).generate(prompts, SamplingParams(max_new_tokens=24, temperature=0))
    counts = Counter(t for group in greedy for t in group[0].token_ids)
    (first, _), (second, _) = counts.most_common(2)
    with torch.no_grad():
        head = model.lm_head.weight
        head[tokenizer.convert_tokens_to_ids(REFLECT)] = 1.02 * head[first]
        head[tokenizer.eos_token_id] = 1.02 * head[second]
    return model


def test_greedy_matches_transformers(engine, tokenizer, model, prompts):
    params = SamplingParams(max_new_tokens=24, temperature=0)
    ours = engine.generate(prompts, params)
    theirs = HFEngine(model, tokenizer).generate(prompts, params)
    assert [[c.token_ids for c in group] for group in ours] == [[c.token_ids for c in group] for group in theirs]
    for group, prompt in zip(ours, prompts):
        (completion,) = group
        assert completion.prompt_ids == prompt
        assert completion.finish_reason == "length" and len(completion.token_ids) == 24
        expected = forward_logprobs(model, prompt, completion.token_ids, 1.0)
        torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)


def test_sampled_logprobs_are_tempered_log_softmax(engine, model, prompts):
    params = SamplingParams(max_new_tokens=16, temperature=0.7, n=2, seed=3)
    for prompt, group in zip(prompts, engine.generate(prompts, params)):
        assert len(group) == 2
        for completion in group:
            expected = forward_logprobs(model, prompt, completion.token_ids, 0.7)
            torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)


def test_seeded_sampling_is_reproducible(engine, prompts):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, n=3, seed=11)
    first = [[c.token_ids for c in group] for group in engine.generate(prompts, params)]
    again = [[c.token_ids for c in group] for group in engine.generate(prompts, params)]
    assert first == again
    assert all(len({tuple(ids) for ids in group}) == 3 for group in first)  # the n samples differ
    twice = [[c.token_ids for c in group] for group in engine.generate([prompts[0], prompts[0]], params)]
    assert twice[0] != twice[1]  # a repeated prompt is not given the same noise
    reseeded = SamplingParams(max_new_tokens=16, temperature=1.0, n=3, seed=12)
    assert [[c.token_ids for c in g] for g in engine.generate(prompts, reseeded)] != first


def test_stop_token_ids_end_generation(engine, prompts):
    greedy = engine.generate(prompts[:1], SamplingParams(max_new_tokens=12, temperature=0))[0][0].token_ids
    stop = greedy[5]
    params = SamplingParams(max_new_tokens=12, temperature=0, stop_token_ids=[stop])
    (completion,) = engine.generate(prompts[:1], params)[0]
    assert completion.token_ids == greedy[: greedy.index(stop) + 1] and completion.finish_reason == "stop"


def test_decode_keeps_actions_drops_eos(engine, tokenizer):
    ids = [tokenizer.convert_tokens_to_ids(REFLECT), *tokenizer.encode(" 42"), tokenizer.eos_token_id]
    assert engine.decode(ids) == f"{REFLECT} 42"


def test_update_weights_then_greedy_matches_transformers_on_new_weights(engine, tokenizer, model, prompts):
    params = SamplingParams(max_new_tokens=24, temperature=0)
    before = [g[0].token_ids for g in engine.generate(prompts, params)]
    new_model = steered_model(tokenizer, prompts, seed=1)
    engine.update_weights(new_model.state_dict())
    after = engine.generate(prompts, params)
    expected = HFEngine(new_model, tokenizer).generate(prompts, params)
    assert [g[0].token_ids for g in after] == [g[0].token_ids for g in expected]
    assert [g[0].token_ids for g in after] != before
    stopped = [g[0] for g in after if g[0].finish_reason == "stop"]
    assert stopped and all(c.token_ids[-1] == tokenizer.eos_token_id for c in stopped)
    assert all(tokenizer.eos_token not in c.text for c in stopped)
    assert any(REFLECT in g[0].text for g in after)  # action tokens survive decoding
    for prompt, group in zip(prompts, after):
        expected_lp = forward_logprobs(new_model, prompt, group[0].token_ids, 1.0)
        torch.testing.assert_close(torch.tensor(group[0].logprobs), expected_lp, atol=1e-4, rtol=1e-4)
    # Back to the first weights: the prefix cache must not serve KV blocks of the second model.
    engine.update_weights(model.state_dict())
    assert [g[0].token_ids for g in engine.generate(prompts, params)] == before
