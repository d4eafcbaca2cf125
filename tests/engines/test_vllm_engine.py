"""The vLLM engine (CPU build) against transformers on the same tiny Qwen2 weights."""

from __future__ import annotations

import importlib.util

import pytest
import torch

# find_spec, not importorskip: collecting this file for `-m "not slow"` should not import vLLM
pytestmark = [pytest.mark.slow,  # starts vLLM
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM (the cpu or gpu extra)")]

from satori.coat import REFLECT  # noqa: E402
from satori.engines.base import SamplingParams  # noqa: E402
from satori.engines.hf import HFEngine  # noqa: E402

GREEDY = SamplingParams(max_new_tokens=24, temperature=0)


@pytest.fixture(scope="module")
def engine(tiny_tokenizer, tiny_model, tmp_path_factory):
    from satori.engines.vllm_engine import VLLMEngine

    folder = tmp_path_factory.mktemp("tiny-qwen2")
    tiny_model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    # sleep mode as the colocated driver asks for it; vLLM's CPU build has none, so the engine turns it off
    with VLLMEngine(folder, tiny_tokenizer, max_model_len=256, kv_cache_gib=0.25, enable_sleep_mode=True) as engine:
        yield engine


def token_ids(groups):
    return [[c.token_ids for c in group] for group in groups]


def test_greedy_matches_transformers(engine, tiny_tokenizer, tiny_model, engine_prompts, forward_logprobs):
    ours = engine.generate(engine_prompts, GREEDY)
    assert token_ids(ours) == token_ids(HFEngine(tiny_model, tiny_tokenizer).generate(engine_prompts, GREEDY))
    for group, prompt in zip(ours, engine_prompts):
        (completion,) = group
        assert completion.prompt_ids == prompt
        assert completion.finish_reason == "length" and len(completion.token_ids) == 24
        expected = forward_logprobs(tiny_model, prompt, completion.token_ids, 1.0)
        torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)


def test_sampled_logprobs_are_tempered_log_softmax(engine, tiny_model, engine_prompts, forward_logprobs):
    params = SamplingParams(max_new_tokens=16, temperature=0.7, n=2, seed=3)
    for prompt, group in zip(engine_prompts, engine.generate(engine_prompts, params)):
        assert len(group) == 2
        for completion in group:
            expected = forward_logprobs(tiny_model, prompt, completion.token_ids, 0.7)
            torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)


def test_seeded_sampling_is_reproducible(engine, engine_prompts):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, n=3, seed=11)
    first = token_ids(engine.generate(engine_prompts, params))
    assert token_ids(engine.generate(engine_prompts, params)) == first
    assert all(len({tuple(ids) for ids in group}) == 3 for group in first)  # the n samples differ
    twice = token_ids(engine.generate([engine_prompts[0]] * 2, params))
    assert twice[0] != twice[1]  # a repeated prompt does not get the same noise
    reseeded = SamplingParams(max_new_tokens=16, temperature=1.0, n=3, seed=12)
    assert token_ids(engine.generate(engine_prompts, reseeded)) != first


def test_stop_token_ids_end_generation(engine, engine_prompts):
    greedy = engine.generate(engine_prompts[:1], GREEDY)[0][0].token_ids
    stop = greedy[5]
    params = SamplingParams(max_new_tokens=24, temperature=0, stop_token_ids=[stop])
    (completion,) = engine.generate(engine_prompts[:1], params)[0]
    assert completion.token_ids == greedy[: greedy.index(stop) + 1] and completion.finish_reason == "stop"


def test_update_weights_then_greedy_matches_transformers_on_new_weights(
        engine, tiny_tokenizer, tiny_model, steered_model, engine_prompts, forward_logprobs):
    before = token_ids(engine.generate(engine_prompts, GREEDY))
    engine.update_weights(steered_model.state_dict())
    after = engine.generate(engine_prompts, GREEDY)
    assert token_ids(after) == token_ids(HFEngine(steered_model, tiny_tokenizer).generate(engine_prompts, GREEDY))
    assert token_ids(after) != before
    for prompt, (completion,) in zip(engine_prompts, after):
        expected = forward_logprobs(steered_model, prompt, completion.token_ids, 1.0)
        torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)
    # The steered model stops on EOS (kept in token_ids, dropped from text) and writes actions.
    stopped = [c for (c,) in after if c.finish_reason == "stop"]
    assert stopped and all(c.token_ids[-1] == tiny_tokenizer.eos_token_id for c in stopped)
    assert all(tiny_tokenizer.eos_token not in c.text for c in stopped)
    assert any(REFLECT in c.text for (c,) in after)
    # Back to the first weights through the file that out-of-process workers read; the prefix cache
    # must not serve KV blocks computed by the steered model.
    assert engine.worker_in_process
    engine.worker_in_process = False
    try:
        engine.update_weights(tiny_model.state_dict())
    finally:
        engine.worker_in_process = True
    assert token_ids(engine.generate(engine_prompts, GREEDY)) == before


def test_seeded_sampling_of_a_batch_larger_than_one_prefill_step(engine, engine_prompts):
    many = [engine_prompts[-1][:-k] for k in range(1, 49)]  # ~5k prompt tokens, distinct prompts
    params = SamplingParams(max_new_tokens=4, temperature=1.0, n=2, seed=0)
    groups = engine.generate(many, params)
    assert [len(g) for g in groups] == [2] * len(many)
    assert token_ids(engine.generate(many, params)) == token_ids(groups)


def test_logprobs_off_gives_the_same_tokens_without_logprobs(engine, engine_prompts):
    on = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=0.0))
    off = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=0.0, logprobs=False))
    assert [c.token_ids for g in off for c in g] == [c.token_ids for g in on for c in g]
    assert all(c.logprobs is None for g in off for c in g)


def test_sleep_and_wake_do_nothing_on_cpu(engine, engine_prompts):
    """vLLM's CPU build has no sleep mode: asked for, it is off, and sleep / wake leave the engine serving."""
    before = token_ids(engine.generate(engine_prompts, GREEDY))
    assert not engine.sleep_mode
    engine.sleep()
    engine.wake()
    assert token_ids(engine.generate(engine_prompts, GREEDY)) == before
