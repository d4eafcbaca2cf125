"""Rollout engine on a transformers causal LM: the small-machine fallback.

Works on any device transformers runs on. Its own decode loop (prefill, then one token per step through
a KV cache that reserves its room once, ``kv_cache.py``) instead of ``generate``: rows that have stopped
leave the batch and the cache, so a batch costs the sum of its completions' lengths rather than its
longest completion times the batch size, and each step keeps one (batch,) vector of chosen-token
log-probs, never the (batch, length, vocab) logits. Sampling follows ``generate``'s order: temperature,
then top-k, then top-p.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import torch

from satori.engines.attention import use_grouped_sdpa
from satori.engines.base import Completion, RolloutEngine, SamplingParams
from satori.engines.kv_cache import reserved_cache
from satori.tokenization import ActionKeepingDecoder

COMPACT_SHARE = 0.125   # drop stopped rows from the batch once they are this share of it (or all of it)
BUCKET_RATIO = 2.0      # a batch's longest prompt is at most this many times its shortest ...
MIN_BUCKET = 16         # ... unless a batch of that few rows would be cut off


def length_buckets(lengths: list[int], max_size: int) -> list[list[int]]:
    """Row indices grouped into batches of at most ``max_size`` rows of similar prompt length.

    Left padding makes every row of a batch attend over the batch's longest prompt at every decode step:
    restart prompts (an earlier trajectory's prefix) three times longer than the plain ones would make
    the plain rows pay for their prefixes. Rows go shortest first; a batch closes at ``max_size`` rows,
    or when the next prompt is more than ``BUCKET_RATIO`` times its shortest and it holds ``MIN_BUCKET``.
    """
    buckets: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        current = buckets[-1] if buckets else None
        if (current is None or len(current) >= max_size or
                (lengths[index] > BUCKET_RATIO * lengths[current[0]] and len(current) >= MIN_BUCKET)):
            buckets.append([index])
        else:
            current.append(index)
    return buckets


def left_padded(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, each (B, longest prompt), prompts right-aligned after ``pad_id``s."""
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        attention[row, width - len(prompt):] = 1
    return input_ids, attention


def filter_logits(scaled: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """(B, V) temperature-scaled logits with tokens outside the top-k and the top-p nucleus set to -inf."""
    if 0 < top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, top_k, dim=-1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if top_p < 1.0:
        ascending, order = torch.sort(scaled, dim=-1)
        outside = ascending.softmax(-1).cumsum(-1) <= 1.0 - top_p    # (B, V) the low tail holding <= 1 - p
        outside[:, -1] = False                                        # the likeliest token always stays
        scaled = scaled.masked_fill(outside.scatter(-1, order, outside), float("-inf"))
    return scaled


def choose_tokens(logits: torch.Tensor, params: SamplingParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens (B,) from one step's logits (B, V), and their log-softmax(logits / T) (B,)
    at the sampling temperature T (T = 1 when greedy)."""
    scaled = logits.float() / (1.0 if params.greedy else params.temperature)
    if params.greedy:
        chosen = scaled.argmax(-1)
    else:
        probs = filter_logits(scaled, params.top_k, params.top_p).softmax(-1)
        chosen = torch.multinomial(probs, 1).squeeze(-1)
    logprobs = scaled.gather(-1, chosen.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(scaled, dim=-1)
    return chosen, logprobs


class HFEngine(RolloutEngine):
    """Generate with a transformers causal LM.

    Args:
        model: a loaded ``PreTrainedModel`` or a path/hub name to load.
        tokenizer: its tokenizer (loaded from ``model`` when it is a path and this is None).
        max_batch_size: prompts (times ``n``) generated together at most.
        device, dtype: where and in which precision to load ``model`` when it is a path.
    """

    def __init__(self, model: Any, tokenizer: Any = None, max_batch_size: int = 64,
                 device: str = "cpu", dtype: torch.dtype = torch.float32):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).to(device)
        if tokenizer is None:
            raise ValueError("HFEngine needs a tokenizer when given a model object")
        self.model = model.eval()
        use_grouped_sdpa(self.model)
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._decode = ActionKeepingDecoder(tokenizer)
        self._last_logits_only = ({"logits_to_keep": 1}
                                  if "logits_to_keep" in inspect.signature(model.forward).parameters else {})

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        params.validate()
        flat = [list(p) for p in prompts for _ in range(params.n)]
        rng = torch.random.fork_rng(devices=[]) if params.seed is not None else contextlib.nullcontext()
        outputs: list[Completion | None] = [None] * len(flat)
        with rng:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for bucket in length_buckets([len(p) for p in flat], self.max_batch_size):
                for index, completion in zip(bucket, self._generate_batch([flat[i] for i in bucket], params)):
                    outputs[index] = completion
        return [outputs[i * params.n: (i + 1) * params.n] for i in range(len(prompts))]

    def _step(self, input_ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor,
              cache: Any) -> tuple[torch.Tensor, Any]:
        """Logits of the last position (B, V) and the updated KV cache."""
        out = self.model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                         past_key_values=cache, use_cache=True, **self._last_logits_only)
        return out.logits[:, -1], out.past_key_values

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        device = next(self.model.parameters()).device
        input_ids, attention = left_padded(prompts, self.pad_id)
        input_ids, attention = input_ids.to(device), attention.to(device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)                    # (B, P)
        stop_ids = torch.tensor([i for i in [self.tokenizer.eos_token_id, *params.stop_token_ids] if i is not None],
                                dtype=torch.long, device=device)
        tokens: list[list[int]] = [[] for _ in prompts]
        logprobs: list[list[float]] = [[] for _ in prompts]
        stopped = [False] * len(prompts)

        cache = reserved_cache(self.model.config.get_text_config(decoder=True).num_hidden_layers,
                               input_ids.shape[1] + params.max_new_tokens)
        logits, cache = self._step(input_ids, attention, positions, cache)
        rows = torch.arange(len(prompts), device=device)      # (A,) the batch rows still in the cache
        position = positions[:, -1]                            # (A,) position of each row's last token
        live = torch.ones(len(prompts), dtype=torch.bool, device=device)   # (A,) rows still generating
        for step in range(params.max_new_tokens):
            chosen, chosen_logprobs = choose_tokens(logits, params)
            ends = torch.isin(chosen, stop_ids) & live
            for row, token, logprob in zip(rows[live].tolist(), chosen[live].tolist(), chosen_logprobs[live].tolist()):
                tokens[row].append(token)
                logprobs[row].append(logprob)
            for row in rows[ends].tolist():
                stopped[row] = True
            live &= ~ends
            if not live.any() or step + 1 == params.max_new_tokens:
                break
            if (~live).sum() >= max(1, COMPACT_SHARE * len(live)):
                keep = live.nonzero().squeeze(-1)
                cache.batch_select_indices(keep)
                rows, attention, position, chosen, live = rows[keep], attention[keep], position[keep], chosen[keep], live[keep]
            attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
            position = position + 1
            logits, cache = self._step(chosen.unsqueeze(-1), attention, position.unsqueeze(-1), cache)

        return [Completion(prompt_ids=prompt, token_ids=ids, logprobs=lps if params.logprobs else None,
                           text=self.decode(ids), finish_reason="stop" if done else "length")
                for prompt, ids, lps, done in zip(prompts, tokens, logprobs, stopped)]

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids`` with action tokens kept and every other special token dropped."""
        return self._decode(token_ids)

    def update_weights(self, state_dict: dict[str, Any]) -> None:
        """Load every weight of the model. A state dict with a missing or unknown name is refused before
        anything is loaded (a partial load would leave the engine sampling from a mix of old and new weights)."""
        expected = set(self.model.state_dict())
        missing, unexpected = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
        if missing or unexpected:
            raise ValueError(f"update_weights: {len(missing)} missing weights {missing[:3]}, "
                             f"{len(unexpected)} unexpected {unexpected[:3]}; nothing was loaded")
        self.model.load_state_dict(state_dict)
