"""The transformers engine's KV cache: appends write in place, growth and row selection keep the states."""

from __future__ import annotations

import torch

from satori.engines.base import SamplingParams
from satori.engines.hf import HFEngine
from satori.engines.kv_cache import ReservedLayer


def states(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 2, length, 4, generator=generator),
            torch.randn(batch, 2, length, 4, generator=generator))


def test_appends_within_capacity_write_into_one_buffer():
    """Prefill then one position at a time: the returned keys/values are the concatenation of every write,
    and all of them live in the buffer reserved at the first write (no step copies the cache)."""
    layer = ReservedLayer(capacity=8)
    writes = [states(3, 5, 0), states(3, 1, 1), states(3, 1, 2)]
    pointers = set()
    for keys, values in writes:
        got_keys, got_values = layer.update(keys, values)
        pointers.add(got_keys.untyped_storage().data_ptr())
    assert len(pointers) == 1
    assert torch.equal(got_keys, torch.cat([k for k, _ in writes], dim=2))
    assert torch.equal(got_values, torch.cat([v for _, v in writes], dim=2))
    assert layer.get_seq_length() == 7 and layer.get_mask_sizes(1) == (8, 0)


def test_writing_past_capacity_grows_and_keeps_the_filled_part():
    layer = ReservedLayer(capacity=4)
    writes = [states(2, 3, 0), states(2, 1, 1), states(2, 1, 2), states(2, 2, 3)]
    for keys, values in writes:
        got_keys, got_values = layer.update(keys, values)
    assert got_keys.shape == (2, 2, 7, 4)
    assert torch.equal(got_keys, torch.cat([k for k, _ in writes], dim=2))
    assert torch.equal(got_values, torch.cat([v for _, v in writes], dim=2))


def test_selecting_rows_keeps_their_states_and_later_writes():
    layer = ReservedLayer(capacity=6)
    keys, values = states(4, 3, 0)
    layer.update(keys, values)
    keep = torch.tensor([0, 2])
    layer.batch_select_indices(keep)
    step_keys, step_values = states(2, 1, 1)
    got_keys, got_values = layer.update(step_keys, step_values)
    assert torch.equal(got_keys, torch.cat([keys[keep], step_keys], dim=2))
    assert torch.equal(got_values, torch.cat([values[keep], step_values], dim=2))


def test_the_engine_decodes_through_the_reserved_cache(tiny_tokenizer, tiny_model, engine_prompts, monkeypatch):
    """Every layer's prefill and decode steps go through :class:`ReservedLayer`, and the completions are the
    ones transformers' own ``generate`` (its growing cache) gives, prompt by prompt."""
    writes = []
    update = ReservedLayer.update
    monkeypatch.setattr(ReservedLayer, "update", lambda self, *a, **k: writes.append(1) or update(self, *a, **k))
    engine = HFEngine(tiny_model, tiny_tokenizer, max_batch_size=len(engine_prompts))
    params = SamplingParams(max_new_tokens=12, temperature=0)
    completions = [group[0].token_ids for group in engine.generate(engine_prompts, params)]
    assert len(writes) >= tiny_model.config.num_hidden_layers * 2
    for prompt, ids in zip(engine_prompts, completions):
        reference = tiny_model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                                        eos_token_id=tiny_tokenizer.eos_token_id, pad_token_id=tiny_tokenizer.pad_token_id)
        assert ids == reference[0, len(prompt):].tolist()
