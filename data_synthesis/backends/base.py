"""What every text backend offers the LLM agents: prompts in, replies (or recorded failures) out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One completion; ``error`` is set (and ``text`` empty) when the request finally failed."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    attempts: int = 1


@dataclass
class Usage:
    """Running totals of one backend, safe to update from worker threads."""

    requests: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, reply: Reply) -> None:
        with self._lock:
            self.requests += 1
            self.failures += reply.error is not None
            self.retries += reply.attempts - 1
            self.prompt_tokens += reply.prompt_tokens
            self.completion_tokens += reply.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "failures": self.failures, "retries": self.retries,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


class TextBackend(ABC):
    """Completes text prompts. ``name`` labels its token usage in the stats."""

    def __init__(self, name: str):
        self.name = name
        self.usage = Usage()

    @abstractmethod
    def complete(self, prompts: list[str], max_new_tokens: int, temperature: float,
                 seeds: list[int]) -> list[Reply]:
        """One :class:`Reply` per prompt, in order; never raises for a single failed request."""

    def close(self) -> None:
        """Release resources."""
