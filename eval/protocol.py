"""Evaluation protocols: one switch (``protocol``, ``--protocol``) that fixes prompt, decoding and extraction.

``satori-paper``, the Satori paper's zero-shot protocol: the Satori instruction as a user turn through
the model's chat template ("Solve the following math problem efficiently and clearly. Please reason
step by step, and put your final answer within \\boxed{}. Problem: ..."), greedy decoding, one sample,
up to 4096 new tokens, and the answer is the content of the last ``\\boxed{}`` only (a completion
without a box is unparseable; the grader's other rules, e.g. "the answer is ...", are not used).
The grader then compares that answer with the gold as in every evaluation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from satori.coat import final_answer


@dataclass(frozen=True)
class Protocol:
    """What a protocol fixes: the prompt template, the decoding settings and how the answer is read."""

    template: str
    max_new_tokens: int
    temperature: float
    n: int
    answer: str          # "last_boxed": the last \boxed{} only

    def record(self, name: str) -> dict[str, Any]:
        """The protocol as written into ``summary.json``."""
        return {"name": name, **asdict(self)}


PROTOCOLS = {"satori-paper": Protocol(template="chat", max_new_tokens=4096, temperature=0.0, n=1, answer="last_boxed")}


def graded_text(completion: str, protocol: str | None) -> str:
    """What the grader reads of ``completion``: all of it, or under a ``last_boxed`` protocol the last
    ``\\boxed{}`` alone (an empty string when there is none)."""
    if protocol is None or PROTOCOLS[protocol].answer != "last_boxed":
        return completion
    box = final_answer(completion)
    return "" if box is None else f"\\boxed{{{box}}}"
