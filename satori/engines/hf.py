"""Rollout engine on plain transformers ``generate``: the small-machine fallback.

Works on any device transformers runs on; batched with left padding, returns per-token
log-probabilities at the sampling temperature, read from each step's logits as they are produced (one
(batch,) vector per step is kept, never the (batch, length, vocab) logits).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from transformers import LogitsProcessorList

from satori.engines.base import Completion, RolloutEngine, SamplingParams
from satori.tokenization import ActionKeepingDecoder


class ChosenTokenLogprobs:
    """A ``generate`` logits processor that records log-softmax(logits / T) of each sampled token.

    transformers runs custom processors before its sampling warpers (temperature, top-k, top-p), so
    ``scores`` here are the model's raw logits. The token sampled from step t's scores is only known at
    step t + 1 (it is then the last column of ``input_ids``), so one step's scaled logits are held until
    the next call; :meth:`result` reads the final step's token from the returned sequences.
    """

    def __init__(self, temperature: float):
        self.temperature = temperature
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None   # scaled logits (B, V), lse (B,)
        self._steps: list[torch.Tensor] = []                              # each (B,)

    def _take(self, chosen: torch.Tensor) -> None:
        scaled, lse = self._pending
        self._steps.append(scaled.gather(-1, chosen.unsqueeze(-1)).squeeze(-1) - lse)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._pending is not None:
            self._take(input_ids[:, -1])
        scaled = scores.float() / self.temperature
        self._pending = (scaled, torch.logsumexp(scaled, dim=-1))
        return scores

    def result(self, generated: torch.Tensor) -> torch.Tensor:
        """(B, L) log-probs of ``generated`` (B, L), the new tokens ``generate`` returned."""
        if self._pending is not None:
            self._take(generated[:, len(self._steps)].to(self._pending[0].device))
            self._pending = None
        if len(self._steps) != generated.shape[1]:
            raise RuntimeError(f"log-probs for {len(self._steps)} steps, {generated.shape[1]} tokens generated")
        return torch.stack(self._steps, dim=1).cpu()


def left_padded(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, each (B, longest prompt), prompts right-aligned after ``pad_id``s."""
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        attention[row, width - len(prompt):] = 1
    return input_ids, attention


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
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._decode = ActionKeepingDecoder(tokenizer)

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        params.validate()
        flat = [list(p) for p in prompts for _ in range(params.n)]
        rng = torch.random.fork_rng(devices=[]) if params.seed is not None else contextlib.nullcontext()
        outputs: list[Completion] = []
        with rng:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for start in range(0, len(flat), self.max_batch_size):
                outputs.extend(self._generate_batch(flat[start: start + self.max_batch_size], params))
        return [outputs[i * params.n: (i + 1) * params.n] for i in range(len(prompts))]

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        device = next(self.model.parameters()).device
        input_ids, attention = left_padded(prompts, self.pad_id)
        width = input_ids.shape[1]
        stop_ids = [i for i in [self.tokenizer.eos_token_id, *params.stop_token_ids] if i is not None]
        sampling: dict[str, Any] = {"do_sample": False}
        if not params.greedy:
            sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p,
                        "top_k": params.top_k if params.top_k > 0 else 0}
        recorder = ChosenTokenLogprobs(1.0 if params.greedy else params.temperature) if params.logprobs else None
        sequences = self.model.generate(
            input_ids=input_ids.to(device), attention_mask=attention.to(device),
            max_new_tokens=params.max_new_tokens, eos_token_id=stop_ids, pad_token_id=self.pad_id,
            logits_processor=LogitsProcessorList([recorder] if recorder else []), **sampling,
        )
        generated = sequences[:, width:]                                # (B, L)
        token_logprobs = recorder.result(generated) if recorder else None   # (B, L)
        generated = generated.cpu()
        stop_set = set(stop_ids)
        completions = []
        for row, prompt in enumerate(prompts):
            ids = generated[row].tolist()
            end = next((i + 1 for i, t in enumerate(ids) if t in stop_set), None)
            finish = "stop" if end is not None else "length"
            ids = ids[:end] if end is not None else ids
            completions.append(Completion(
                prompt_ids=prompt, token_ids=ids,
                logprobs=None if token_logprobs is None else token_logprobs[row, : len(ids)].tolist(),
                text=self.decode(ids), finish_reason=finish,
            ))
        return completions

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
