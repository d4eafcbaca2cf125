"""An outcome reward model (ORM): a causal LM with a scalar head, scoring a whole response.

The model is a transformers sequence-classification model with one label (``Qwen2ForSequenceClassification``,
``LlamaForSequenceClassification``, ...), so ``AutoModelForSequenceClassification`` loads a saved one. Its
input is the policy's prompt (the same template the policy saw) followed by the response; its score is the
head applied to the last response token's hidden state. Sequences are padded on the left, so the last
position of every row is its last real token whatever the pad id (a tokenizer whose pad is its EOS
included). Longer sequences keep their last ``max_length`` tokens: the end of the response decides.

Used by ``satori rm`` (training), the PPO reward (``train.rl.workers.RewardModelWorker``), and
``satori eval --rerank``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from satori.engines.hf import left_padded
from satori.prompts import build_prompt


def score_head(model: Any) -> torch.nn.Module:
    """The scalar head of a sequence-classification model (``score`` in transformers' decoder classes)."""
    head = getattr(model, "score", None)
    if head is None or getattr(model.config, "num_labels", None) != 1:
        raise ValueError(f"{type(model).__name__} is not a one-label sequence-classification model with a "
                         "'score' head; build it with AutoModelForSequenceClassification(num_labels=1)")
    return head


def last_token_scores(model: Any, sequences: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Scores (B,) of ``sequences`` (token ids, prompt + response): the head at each one's last token.

    Differentiable (call under ``torch.no_grad()`` to score). Rows are left-padded into one (B, T) batch.
    """
    input_ids, attention = left_padded([list(s) for s in sequences], pad_id)
    device = next(model.parameters()).device
    input_ids, attention = input_ids.to(device), attention.to(device)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)                              # (B, T)
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                              use_cache=False).last_hidden_state                      # (B, T, H)
    return score_head(model)(hidden[:, -1]).squeeze(-1).float()                       # (B,)


def batched_scores(model: Any, sequences: Sequence[Sequence[int]], pad_id: int, batch_size: int) -> list[float]:
    """:func:`last_token_scores` of every sequence, ``batch_size`` at a time, longest first (batches pad
    little); in the order given."""
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    scores = [0.0] * len(sequences)
    for start in range(0, len(order), batch_size):
        chunk = order[start: start + batch_size]
        values = last_token_scores(model, [sequences[i] for i in chunk], pad_id).tolist()
        for index, value in zip(chunk, values):
            scores[index] = value
    return scores


def encode_pair(tokenizer: Any, prompt: str, response: str, max_length: int) -> list[int]:
    """Token ids of the ``prompt`` text followed by ``response`` (no EOS), the last ``max_length`` kept."""
    ids = tokenizer.encode(prompt, add_special_tokens=False) + tokenizer.encode(response, add_special_tokens=False)
    return ids[-max_length:]


def load_reward_model(path: str, device: str = "cpu", dtype: Any = torch.float32) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, tokenizer, meta)`` of a saved ORM folder (``satori rm``'s ``model/`` or a checkpoint)."""
    from pathlib import Path

    from transformers import AutoModelForSequenceClassification

    from satori.models import load_tokenizer, read_satori_meta

    if not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(f"no reward model in {path} (no config.json); train one with `satori rm`")
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype).to(device).eval()
    score_head(model)
    return model, load_tokenizer(path), read_satori_meta(path)


class RewardModel:
    """Batched scoring of ``(question, response)`` pairs with a saved ORM, under its training template."""

    def __init__(self, path: str, batch_size: int = 16, max_length: int | None = None, device: str = "cpu"):
        self.model, self.tokenizer, meta = load_reward_model(path, device)
        self.template = meta.get("template", "satori")
        self.max_length = max_length or int(meta.get("max_length", 1024))
        self.batch_size = batch_size
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id

    def score(self, questions: Sequence[str], responses: Sequence[str]) -> list[float]:
        """One score per ``(question, response)``, the question put in the model's training template."""
        return self.score_prompted([build_prompt(q, self.template, self.tokenizer) for q in questions], responses)

    @torch.no_grad()
    def score_prompted(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        """One score per ``(prompt text, response)``, batched ``batch_size`` at a time (longest first, so
        batches pad little)."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        encoded = [encode_pair(self.tokenizer, p, r, self.max_length) for p, r in zip(prompts, responses)]
        return batched_scores(self.model, encoded, self.pad_id, self.batch_size)


@dataclass
class RunningNorm:
    """Running mean and standard deviation of every score seen (Chan et al.'s parallel update), used to
    normalise ORM scores before the sigmoid: ``z = (s - mean) / std``. Its state is three numbers, saved
    with a PPO checkpoint."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0     # sum of squared deviations from the mean

    def update(self, values: Sequence[float]) -> None:
        if not values:
            return
        n = len(values)
        batch_mean = sum(values) / n
        batch_m2 = sum((v - batch_mean) ** 2 for v in values)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        """Population standard deviation (1.0 before two scores are seen, so the first batch is not blown up)."""
        return math.sqrt(self.m2 / self.count) if self.count >= 2 and self.m2 > 0 else 1.0

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.count, self.mean, self.m2 = int(state["count"]), float(state["mean"]), float(state["m2"])
