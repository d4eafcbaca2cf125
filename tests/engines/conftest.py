"""Fixtures shared by the engine tests: prompts, a steered model, a forward-pass log-prob oracle."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from satori.coat import CONTINUE, REFLECT
from satori.engines.base import SamplingParams


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """Tiny models decode fastest on one thread; more threads spin against each other on a shared machine.

    Package-scoped so it precedes the module-scoped vLLM engine, which keeps the thread count it
    starts with (in-process, vLLM turns ``torch.set_num_threads`` into a no-op).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def engine_prompts(tiny_tokenizer):
    """Prompts of different lengths; the last spans full KV blocks (which vLLM's prefix cache keeps)."""
    texts = ["Problem: 12 + 30 = ?", f"{CONTINUE}3 + 4 = 7.\n{REFLECT}", "Check", "7",
             " ".join(f"{CONTINUE}{a} + {a} = {2 * a}." for a in range(12))]
    return [tiny_tokenizer.encode(t) for t in texts]


@pytest.fixture(scope="session")
def forward_logprobs():
    """``f(model, prompt, generated, T)``: log-softmax(logits / T) of each generated token from one
    transformers forward pass, shape ``(L,)``."""

    def logprobs(model, prompt: list[int], generated: list[int], temperature: float) -> torch.Tensor:
        ids = torch.tensor([prompt + generated])
        with torch.no_grad():
            logits = model(ids).logits[0, len(prompt) - 1: -1].float()
        return torch.log_softmax(logits / temperature, -1).gather(-1, torch.tensor(generated)[:, None])[:, 0]

    return logprobs


@pytest.fixture(scope="session")
def steered_model(tiny_tokenizer, engine_prompts):
    """A fresh model (seed 1) whose two most frequent greedy tokens are replaced by ``<|reflect|>`` and EOS.

    Each replacement gets the output-embedding row of the token it replaces scaled by 1.02, so it
    wins wherever that token led with a positive logit: greedy completions hold actions and stop.
    """
    from satori.engines.hf import HFEngine
    from satori.tiny import build_model

    model = build_model(tiny_tokenizer, seed=1)
    greedy = HFEngine(model, tiny_tokenizer).generate(engine_prompts, SamplingParams(max_new_tokens=24, temperature=0))
    counts = Counter(t for group in greedy for t in group[0].token_ids)
    (first, _), (second, _) = counts.most_common(2)
    with torch.no_grad():
        head = model.lm_head.weight
        head[tiny_tokenizer.convert_tokens_to_ids(REFLECT)] = 1.02 * head[first]
        head[tiny_tokenizer.eos_token_id] = 1.02 * head[second]
    return model
