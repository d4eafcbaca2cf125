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


def record_forward_batches(model, monkeypatch):
    """Wrap ``model.forward`` (for one test) to record the logits shape of every call; returns the list it fills."""
    shapes = []
    real_forward = model.forward

    def recording_forward(*args, **kwargs):
        out = real_forward(*args, **kwargs)
        shapes.append(tuple(out.logits.shape))
        return out

    monkeypatch.setattr(model, "forward", recording_forward)
    return shapes


def test_only_the_last_positions_logits_are_computed(engine, engine_prompts, monkeypatch):
    """No (batch, length, vocab) logits: the prefill and every decode step ask the model for the last
    position's logits only, and log-probs are read from them as tokens are chosen."""
    shapes = record_forward_batches(engine.model, monkeypatch)
    groups = engine.generate(engine_prompts, SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=1))
    assert shapes and all(length == 1 for _, length, _ in shapes)
    assert all(len(c.logprobs) == len(c.token_ids) and max(c.logprobs) <= 0 for g in groups for c in g)


def test_stopped_rows_leave_the_batch(tiny_tokenizer, steered_model, engine_prompts, monkeypatch):
    """Rows that stop early are dropped from the batch and its KV cache: later steps run on fewer rows,
    and the completions are the ones decoding the whole batch to the end gives (each prompt alone)."""
    engine = HFEngine(steered_model, tiny_tokenizer, max_batch_size=len(engine_prompts))
    params = SamplingParams(max_new_tokens=24, temperature=0)
    shapes = record_forward_batches(steered_model, monkeypatch)
    batched = engine.generate(engine_prompts, params)
    sizes = [batch for batch, _, _ in shapes]
    assert sizes[0] == len(engine_prompts) and min(sizes) < len(engine_prompts)
    assert sizes == sorted(sizes, reverse=True)
    lengths = sorted(len(c.token_ids) for (c,) in batched)
    assert sum(sizes[1:]) < len(engine_prompts) * (params.max_new_tokens - 1)   # less work than full-batch decoding
    assert sum(sizes[1:]) >= sum(lengths) - len(engine_prompts)                 # every kept row was decoded
    alone = [engine.generate([p], params)[0][0].token_ids for p in engine_prompts]
    assert [c.token_ids for (c,) in batched] == alone


@pytest.mark.parametrize("top_k,top_p", [(5, 1.0), (0, 0.8), (7, 0.5), (0, 0.05)])
def test_sampling_filters_match_transformers_warpers(top_k, top_p):
    """Top-k then top-p, as ``generate`` applies them, checked against transformers' own warpers."""
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    from satori.engines.hf import filter_logits

    scaled = torch.randn(6, 50, generator=torch.Generator().manual_seed(top_k * 10 + int(top_p * 100)))
    expected = scaled
    if top_k:
        expected = TopKLogitsWarper(top_k)(None, expected)
    if top_p < 1:
        expected = TopPLogitsWarper(top_p)(None, expected)
    ours = filter_logits(scaled, top_k, top_p)
    assert torch.equal(torch.isinf(ours), torch.isinf(expected))
    assert (~torch.isinf(ours)).sum(-1).min() >= 1
    torch.testing.assert_close(ours[~torch.isinf(ours)], scaled[~torch.isinf(ours)])


def test_top_k_and_top_p_restrict_what_is_sampled(engine, engine_prompts):
    """With top_k 1 sampling is greedy decoding, whatever the temperature and seed."""
    greedy = token_ids(engine.generate(engine_prompts, SamplingParams(max_new_tokens=10, temperature=0)))
    for seed in (1, 2):
        top1 = SamplingParams(max_new_tokens=10, temperature=1.5, top_k=1, seed=seed)
        assert token_ids(engine.generate(engine_prompts, top1)) == greedy
        tiny_p = SamplingParams(max_new_tokens=10, temperature=1.5, top_p=1e-6, seed=seed)
        assert token_ids(engine.generate(engine_prompts, tiny_p)) == greedy


def test_length_buckets_keep_long_prompts_apart_from_short_ones():
    from satori.engines.hf import length_buckets

    lengths = [40] * 20 + [140] * 20 + [41, 39]
    buckets = length_buckets(lengths, max_size=128)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    assert [sorted({lengths[i] for i in b}) for b in buckets] == [[39, 40, 41], [140]]
    assert [len(b) for b in length_buckets(lengths, max_size=16)] == [16, 16, 10]   # 6 short rows join long ones
    few = length_buckets([5, 50, 6], max_size=128)      # too few rows to be worth a second batch
    assert few == [[0, 2, 1]]


def test_mixed_prompt_lengths_decode_in_buckets_in_the_callers_order(tiny_tokenizer, tiny_model, engine_prompts,
                                                                     monkeypatch):
    """Short and long prompts go through separate batches, and every completion comes back in its prompt's
    place, the one each prompt alone gives."""
    short, long = engine_prompts[0], engine_prompts[-1]
    assert len(long) > 2 * len(short)
    prompts = [long if i % 3 == 0 else short for i in range(2 * 16 + 6)]
    engine = HFEngine(tiny_model, tiny_tokenizer, max_batch_size=128)
    inputs = []
    real_forward = tiny_model.forward
    monkeypatch.setattr(tiny_model, "forward", lambda **kw: inputs.append(tuple(kw["input_ids"].shape)) or real_forward(**kw))
    params = SamplingParams(max_new_tokens=6, temperature=0)
    together = [group[0].token_ids for group in engine.generate(prompts, params)]
    prefills = sorted(shape for shape in inputs if shape[1] > 1)   # (rows, longest prompt) of each batch
    assert prefills == [(prompts.count(long), len(long)), (prompts.count(short), len(short))]
    alone = {len(p): engine.generate([p], params)[0][0].token_ids for p in (short, long)}
    assert together == [alone[len(p)] for p in prompts]
