"""The rollout-engine interface every stage generates through (synthesis, RL, evaluation).

An engine turns token-id prompts into completions with per-token log-probabilities.
Backends: `satori.engines.hf` (transformers, any machine) and `satori.engines.vllm_engine`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Decoding:
    """What to sample: the settings a config may expose as they are (eval's ``sampling`` section)."""

    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    n: int = 1


@dataclass
class SamplingParams(Decoding):
    """How to sample: :class:`Decoding` plus the per-call settings. ``temperature == 0`` means greedy decoding."""

    seed: int | None = None
    stop_token_ids: list[int] = field(default_factory=list)
    logprobs: bool = True   # False skips them (evaluation): no per-step logits kept in memory

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.greedy and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) with n > 1 gives n identical samples; "
                             "set temperature > 0 or n = 1")


@dataclass
class Completion:
    """One generated continuation of a prompt.

    ``token_ids`` are the generated ids, the EOS id included when generation stopped on it.
    ``logprobs[i]`` is log-softmax(logits / T)[token_ids[i]] at the sampling temperature T
    (T = 1 for greedy decoding); None when ``SamplingParams.logprobs`` is off. ``text`` is the decoded continuation with action tokens kept
    and EOS/padding dropped. ``finish_reason`` is ``"stop"`` (EOS or a stop id) or ``"length"``.
    """

    prompt_ids: list[int]
    token_ids: list[int]
    logprobs: list[float] | None
    text: str
    finish_reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_ids": self.prompt_ids, "token_ids": self.token_ids, "logprobs": self.logprobs,
                "text": self.text, "finish_reason": self.finish_reason}


class RolloutEngine(ABC):
    """Generates completions for token-id prompts and accepts new weights."""

    @abstractmethod
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
        """Return, for each prompt, a list of ``params.n`` completions."""

    @abstractmethod
    def update_weights(self, state_dict: dict[str, Any]) -> None:
        """Load new policy weights (parameter name -> tensor, Hugging Face naming)."""

    def sleep(self) -> None:
        """Free accelerator memory while learners on the same devices train (no generation until
        :meth:`wake`). Engines with nothing to free do nothing."""

    def wake(self) -> None:
        """Take back the memory :meth:`sleep` freed; weights are as before sleeping until the next
        :meth:`update_weights`."""

    def close(self) -> None:
        """Release the engine's resources."""

    def __enter__(self) -> "RolloutEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
