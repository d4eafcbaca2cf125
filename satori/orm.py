"""An outcome reward model (ORM): a causal LM that scores a whole response.

Two kinds of score (``satori.json``'s ``score``, ``satori rm``'s ``model.score``):

- ``head``: a transformers sequence-classification model with one label (``Qwen2ForSequenceClassification``,
  ``LlamaForSequenceClassification``, ...), so ``AutoModelForSequenceClassification`` loads a saved one; the
  score is the head applied to the last response token's hidden state.
- ``likelihood``: a causal LM (``AutoModelForCausalLM`` loads it); the score is ``score_scale`` times the mean
  log-probability of the response tokens given the prompt. Started from the policy, it ranks a policy's
  samples by the policy's own confidence before any training; the Bradley-Terry loss on it is SimPO's
  objective without a margin.

The input is the policy's prompt (the same template the policy saw) followed by the response. Sequences are
padded on the left, so the last position of every row is its last real token whatever the pad id (a
tokenizer whose pad is its EOS included). Longer sequences keep their last ``max_length`` tokens: the end of
the response decides.

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


SCORES = ("head", "likelihood")


def _left_padded_batch(model: Any, sequences: Sequence[Sequence[int]], pad_id: int):
    """``(input_ids, attention_mask, position_ids)`` (B, T) of left-padded ``sequences`` on the model's device."""
    input_ids, attention = left_padded([list(s) for s in sequences], pad_id)
    device = next(model.parameters()).device
    input_ids, attention = input_ids.to(device), attention.to(device)
    return input_ids, attention, (attention.cumsum(-1) - 1).clamp(min=0)


def last_token_scores(model: Any, sequences: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Scores (B,) of ``sequences`` (token ids, prompt + response): the head at each one's last token.

    Differentiable (call under ``torch.no_grad()`` to score). Rows are left-padded into one (B, T) batch.
    """
    input_ids, attention, positions = _left_padded_batch(model, sequences, pad_id)
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                              use_cache=False).last_hidden_state                      # (B, T, H)
    return score_head(model)(hidden[:, -1]).squeeze(-1).float()                       # (B,)


def likelihood_scores(model: Any, encoded: Sequence[tuple[Sequence[int], int]], pad_id: int,
                      scale: float) -> torch.Tensor:
    """Scores (B,) of ``encoded`` ``(ids, response_length)`` rows (:func:`encode_scored`): ``scale`` times the
    mean log-probability the causal LM ``model`` gives the last ``response_length`` tokens (the first token
    of a row, having no context, is never scored). Differentiable; rows left-padded into one (B, T) batch."""
    input_ids, attention, positions = _left_padded_batch(model, [ids for ids, _ in encoded], pad_id)
    logits = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, use_cache=False).logits
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)                      # (B, T-1, V)
    token_logprobs = logprobs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)          # (B, T-1)
    width = token_logprobs.shape[1]
    lengths = torch.tensor([max(1, min(n, len(ids) - 1)) for ids, n in encoded], device=token_logprobs.device)
    response = torch.arange(width, device=lengths.device)[None, :] >= width - lengths[:, None]   # (B, T-1)
    return scale * (token_logprobs * response).sum(-1) / lengths


@dataclass(frozen=True)
class Scorer:
    """How a reward model turns encoded ``(ids, response_length)`` rows into scores (B,): ``kind`` is one of
    :data:`SCORES`; ``scale`` multiplies a ``likelihood`` score."""

    kind: str = "head"
    scale: float = 1.0

    def __call__(self, model: Any, encoded: Sequence[tuple[Sequence[int], int]], pad_id: int) -> torch.Tensor:
        if self.kind == "likelihood":
            return likelihood_scores(model, encoded, pad_id, self.scale)
        return last_token_scores(model, [ids for ids, _ in encoded], pad_id)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> "Scorer":
        """The scorer a saved reward model's ``satori.json`` records (``head`` when it records none)."""
        kind = meta.get("score", "head")
        if kind not in SCORES:
            raise ValueError(f"satori.json: unknown reward-model score {kind!r}; expected one of {', '.join(SCORES)}")
        return cls(kind, float(meta.get("score_scale", 1.0)))


def batched_scores(model: Any, encoded: Sequence[tuple[Sequence[int], int]], pad_id: int, batch_size: int,
                   scorer: Scorer = Scorer()) -> list[float]:
    """``scorer``'s score of every encoded row, ``batch_size`` at a time, longest first (batches pad little);
    in the order given."""
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
    scores = [0.0] * len(encoded)
    for start in range(0, len(order), batch_size):
        chunk = order[start: start + batch_size]
        values = scorer(model, [encoded[i] for i in chunk], pad_id).tolist()
        for index, value in zip(chunk, values):
            scores[index] = value
    return scores


def encode_scored(tokenizer: Any, prompt: str, response: str, max_length: int) -> tuple[list[int], int]:
    """Token ids of the ``prompt`` text followed by ``response`` (no EOS), the last ``max_length`` kept, and how
    many of them, at the end, are the response's."""
    response_ids = tokenizer.encode(response, add_special_tokens=False)
    ids = (tokenizer.encode(prompt, add_special_tokens=False) + response_ids)[-max_length:]
    return ids, min(len(response_ids), len(ids))


def load_reward_model(path: str, device: str = "cpu", dtype: Any = torch.float32) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, tokenizer, meta)`` of a saved ORM folder (``satori rm``'s ``model/`` or a checkpoint): a
    sequence classifier, or a causal LM when its ``satori.json`` records ``score: likelihood``."""
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from satori.models import load_tokenizer, read_satori_meta

    if not (Path(path) / "config.json").is_file():
        raise FileNotFoundError(f"no reward model in {path} (no config.json); train one with `satori rm`")
    meta = read_satori_meta(path)
    if Scorer.from_meta(meta).kind == "likelihood":
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    else:
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dtype).to(device).eval()
        score_head(model)
    return model, load_tokenizer(path), meta


class RewardModel:
    """Batched scoring of ``(question, response)`` pairs with a saved ORM, under its training template."""

    def __init__(self, path: str, batch_size: int = 16, max_length: int | None = None, device: str = "cpu"):
        self.model, self.tokenizer, meta = load_reward_model(path, device)
        self.template = meta.get("template", "satori")
        self.max_length = max_length or int(meta.get("max_length", 1024))
        self.batch_size = batch_size
        self.scorer = Scorer.from_meta(meta)
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
        encoded = [encode_scored(self.tokenizer, p, r, self.max_length) for p, r in zip(prompts, responses)]
        return batched_scores(self.model, encoded, self.pad_id, self.batch_size, self.scorer)


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
