"""The frozen student: a learner-like worker that only computes token log-probabilities.

Plain class (tested without Ray); :func:`scorer_actor` wraps it as a Ray actor class.
"""

from __future__ import annotations

from typing import Any

import torch

from satori.run_config import set_threads
from train.algorithms.logprobs import token_logprobs
from train.precision import autocast, compute_dtype, training_device
from train.rl.models import load_policy


class StudentScorer:
    """Serves ``log softmax(logits / temperature)`` of every next token under the student model."""

    def __init__(self, model_path: str, temperature: float, threads: int | None = 1, micro_batch_size: int = 16,
                 precision: str = "fp32"):
        """``precision``: the run's ``model.precision``; the frozen student holds its compute dtype."""
        set_threads(threads)
        self.device = training_device()
        dtype = getattr(torch, compute_dtype(precision))
        self.model = load_policy(model_path, dtype).to(self.device).eval().requires_grad_(False)
        self.precision = precision
        self.temperature = temperature
        self.micro_batch_size = micro_batch_size

    @torch.no_grad()
    def logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Right-padded ``(B, L)`` ids and mask -> ``(B, L-1)`` log-probs of ``input_ids[:, 1:]`` (0 at padding)."""
        out = torch.zeros(input_ids.shape[0], input_ids.shape[1] - 1, dtype=torch.float32)
        for start in range(0, input_ids.shape[0], self.micro_batch_size):
            rows = slice(start, start + self.micro_batch_size)
            width = int(attention_mask[rows].sum(-1).max())      # drop all-padding columns
            ids, attn = input_ids[rows, :width].to(self.device), attention_mask[rows, :width].to(self.device)
            with autocast(self.precision, self.device.type):
                logits = self.model(input_ids=ids, attention_mask=attn).logits[:, :-1]
            scored = token_logprobs(logits, ids[:, 1:], self.temperature).float().cpu()
            out[rows, : width - 1] = torch.where(attn[:, 1:].bool().cpu(), scored, 0.0)
        return out


def scorer_actor(num_gpus: float = 0.0) -> Any:
    """:class:`StudentScorer` as a Ray actor class (restarted by Ray, and its calls retried, if its process dies; scoring is pure)."""
    import ray

    return ray.remote(num_gpus=num_gpus, max_restarts=-1, max_task_retries=-1)(StudentScorer)
