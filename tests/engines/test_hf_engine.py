"""The transformers engine: greedy determinism, log-probs on left-padded batches, seeds, EOS, weight updates."""

from __future__ import annotations

import pytest
import torch

from satori.coat import REFLECT
from satori.engines.base import SamplingParams
from satori.engines.hf import HFEngine

GREEDY = SamplingParams(max_new_tokens=16, temperature=0)


@pytest.fixture()
def engine(tiny_tokenizer, tiny_model):
    return HFEngine(tiny_model, tiny_tokenizer, max_batch_size=3)


def token_ids(groups):
    return [[c.token_ids for c in group] for group in groups]


def test_greedy_is_deterministic_and_batch_independent(engine, engine_prompts):
    batched = token_ids(engine.generate(engine_prompts, GREEDY))
    assert token_ids(engine.generate(engine_prompts, GREEDY)) == batched
    assert [token_ids(engine.generate([p], GREEDY))[0] for p in engine_prompts] == batched  # padding is invisible
    assert all(len(ids) == 16 for (ids,) in batched)


@pytest.mark.parametrize("params", [GREEDY, SamplingParams(max_new_tokens=12, temperature=0.7, n=2, seed=5)],
                         ids=["greedy", "sampled"])
def test_logprobs_match_a_forward_pass_on_left_padded_batches(engine, tiny_model, engine_prompts,
                                                              forward_logprobs, params):
    temperature = 1.0 if params.greedy else params.temperature
    groups = engine.generate(engine_prompts, params)
    assert [len(group) for group in groups] == [params.n] * len(engine_prompts)
    for prompt, group in zip(engine_prompts, groups):
        for completion in group:
            assert completion.prompt_ids == prompt and len(completion.logprobs) == len(completion.token_ids)
            expected = forward_logprobs(tiny_model, prompt, completion.token_ids, temperature)
            torch.testing.assert_close(torch.tensor(completion.logprobs), expected, atol=1e-4, rtol=1e-4)


def test_seed_makes_sampling_reproducible(engine, engine_prompts):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, n=3, seed=7)
    first = token_ids(engine.generate(engine_prompts, params))
    assert token_ids(engine.generate(engine_prompts, params)) == first
    assert all(len({tuple(ids) for ids in group}) == 3 for group in first)
    other = SamplingParams(max_new_tokens=12, temperature=1.0, n=3, seed=8)
    assert token_ids(engine.generate(engine_prompts, other)) != first


def test_eos_ends_each_row_and_is_kept_in_ids_not_text(tiny_tokenizer, steered_model, engine_prompts):
    groups = HFEngine(steered_model, tiny_tokenizer).generate(engine_prompts, SamplingParams(max_new_tokens=24,
                                                                                             temperature=0))
    eos = tiny_tokenizer.eos_token_id
    stopped = [c for (c,) in groups if c.finish_reason == "stop"]
    assert stopped and len(stopped) < len(groups)  # rows of one batch stop at different steps
    for (completion,) in groups:
        ids = completion.token_ids
        assert eos not in ids[:-1]  # nothing generated after EOS survives
        assert (ids[-1] == eos) == (completion.finish_reason == "stop")
        assert completion.finish_reason == "stop" or len(ids) == 24
        assert tiny_tokenizer.eos_token not in completion.text
    assert any(REFLECT in c.text for (c,) in groups)  # action tokens survive decoding


def test_update_weights_switches_the_policy(tiny_tokenizer, tiny_model, steered_model, engine_prompts):
    from satori.tiny import build_model

    engine = HFEngine(build_model(tiny_tokenizer, seed=0), tiny_tokenizer)
    before = token_ids(engine.generate(engine_prompts, GREEDY))
    assert before == token_ids(HFEngine(tiny_model, tiny_tokenizer).generate(engine_prompts, GREEDY))
    engine.update_weights(steered_model.state_dict())
    after = token_ids(engine.generate(engine_prompts, GREEDY))
    assert after == token_ids(HFEngine(steered_model, tiny_tokenizer).generate(engine_prompts, GREEDY))
    assert after != before


def test_update_weights_refuses_a_partial_or_misnamed_state_dict(tiny_tokenizer):
    """A state dict that misses a weight, or names one the model lacks, would leave the engine sampling
    from a mix of old and new weights: refused, and the engine keeps its weights."""
    from satori.tiny import build_model

    engine = HFEngine(build_model(tiny_tokenizer, seed=0), tiny_tokenizer)
    before = {k: v.clone() for k, v in engine.model.state_dict().items()}
    new = build_model(tiny_tokenizer, seed=1).state_dict()
    missing = dict(list(new.items())[1:])
    renamed = {("actor." + k if i == 0 else k): v for i, (k, v) in enumerate(new.items())}
    for state_dict, words in ((missing, "1 missing"), (renamed, "1 unexpected")):
        with pytest.raises(ValueError, match=words):
            engine.update_weights(state_dict)
        assert all(torch.equal(v, before[k]) for k, v in engine.model.state_dict().items())
    engine.update_weights(new)
    assert all(torch.equal(v, new[k]) for k, v in engine.model.state_dict().items())
    assert any(not torch.equal(v, before[k]) for k, v in engine.model.state_dict().items())


def test_logprobs_off_gives_the_same_tokens_without_logprobs(engine, engine_prompts):
    on = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=0.0))
    off = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=0.0, logprobs=False))
    assert token_ids(off) == token_ids(on)
    assert all(c.logprobs is None for group in off for c in group)
    assert all(len(c.logprobs) == len(c.token_ids) for group in on for c in group)


def test_only_the_chosen_tokens_logprobs_are_kept(engine, engine_prompts):
    """No (batch, length, vocab) logits: ``generate`` is asked for sequences only, and log-probs come from
    the engine's per-step recorder."""
    calls = []
    real_generate = engine.model.generate

    def recording_generate(**kwargs):
        calls.append(kwargs)
        return real_generate(**kwargs)

    engine.model.generate = recording_generate
    groups = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=1))
    assert calls and all(not kw.get("output_logits") and not kw.get("output_scores") for kw in calls)
    assert all(len(c.logprobs) == len(c.token_ids) and max(c.logprobs) <= 0 for g in groups for c in g)
