"""A text backend over a satori rollout engine (``HFEngine`` in-process, or ``VLLMEngine``)."""

from __future__ import annotations

import hashlib
from typing import Any

from data_synthesis.backends.base import Reply, TextBackend
from satori.engines.base import RolloutEngine, SamplingParams


class EngineBackend(TextBackend):
    """Tokenizes prompts (through the chat template when ``chat``) and generates with ``engine``."""

    def __init__(self, name: str, engine: RolloutEngine, tokenizer: Any, chat: bool = False):
        super().__init__(name)
        self.engine = engine
        self.tokenizer = tokenizer
        self.chat = chat

    def encode(self, prompt: str) -> list[int]:
        if self.chat:
            return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                      add_generation_prompt=True, tokenize=True)
        return self.tokenizer.encode(prompt, add_special_tokens=False)

    def complete(self, prompts: list[str], max_new_tokens: int, temperature: float,
                 seeds: list[int]) -> list[Reply]:
        if not prompts:
            return []
        ids = [self.encode(p) for p in prompts]
        batch_seed = int.from_bytes(hashlib.sha256(repr(seeds).encode()).digest()[:4], "big")
        params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature,
                                seed=None if temperature <= 0 else batch_seed, logprobs=False)
        replies = []
        try:
            outputs = self.engine.generate(ids, params)
        except Exception as exc:      # an engine crash fails this batch; each request is recorded
            outputs = None
            error = f"{type(exc).__name__}: {exc}"
        for prompt_ids, out in zip(ids, outputs or [None] * len(ids)):
            if out is None:
                reply = Reply(error=error, prompt_tokens=len(prompt_ids))
            else:
                reply = Reply(out[0].text, len(prompt_ids), len(out[0].token_ids))
            self.usage.add(reply)
            replies.append(reply)
        return replies

    def close(self) -> None:
        self.engine.close()
