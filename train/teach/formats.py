"""Teacher and student prompt layouts, and where an explanation ends in the teacher's tokens.

Teacher (prefilled up to the opening explanation tag; it writes the rest)::

    {system}
    Problem: {question}
    <solution>{solution}</solution>
    <explanation>...explanation...</explanation>

Student (the explanation is its own reasoning, then the solution)::

    build_prompt(question, student_template){reasoning_open}...explanation...{reasoning_close}<solution>{solution}

Teacher and student share a tokenizer, so the explanation's token ids are placed in the
student's sequence unchanged and both models score the very same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from satori.prompts import build_prompt
from train.teach.config import FormatConfig


def teacher_prompt(fmt: FormatConfig, question: str, solution: str) -> str:
    """The teacher's input text, ending with the opening explanation tag."""
    return (f"{fmt.system}\nProblem: {question}\n{fmt.solution_open}{solution}{fmt.solution_close}\n"
            f"{fmt.explanation_open}")


def teacher_target(fmt: FormatConfig, explanation: str) -> str:
    """What a teacher should write after its prompt: the explanation and the closing tag."""
    return f"{explanation}{fmt.explanation_close}"


def student_response(fmt: FormatConfig, explanation: str, solution: str) -> str:
    """The student's side of the student view: its reasoning (the explanation), then the solution."""
    return f"{fmt.reasoning_open}{explanation}{fmt.reasoning_close}{fmt.solution_open}{solution}"


@dataclass
class StudentView:
    """Token ids of one student sequence and the spans the reward reads.

    ``explanation`` and ``solution`` are ``(start, end)`` index ranges into ``input_ids``.
    """

    input_ids: list[int]
    explanation: tuple[int, int]
    solution: tuple[int, int]


def student_view(fmt: FormatConfig, tokenizer: Any, question: str, explanation_ids: list[int],
                 solution: str) -> StudentView:
    """The student's sequence around the teacher's explanation tokens ``explanation_ids``."""
    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False) if text else []

    head = encode(build_prompt(question, fmt.student_template, tokenizer) + fmt.reasoning_open)
    middle = encode(fmt.reasoning_close + fmt.solution_open)
    solution_ids = encode(solution)
    ids = head + list(explanation_ids) + middle
    spans = (len(head), len(head) + len(explanation_ids)), (len(ids), len(ids) + len(solution_ids))
    return StudentView(ids + solution_ids, *spans)


def explanation_length(token_ids: list[int], tokenizer: Any, close_tag: str) -> tuple[int, bool]:
    """``(k, closed)``: the explanation is ``token_ids[:k]``, the tokens decoding to text before ``close_tag``.

    ``closed`` is False when the tag never appears; then the explanation is every token but a
    final EOS. A token that straddles the tag's start is left out of the explanation.
    """
    ids = list(token_ids)
    if ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    decode = lambda n: tokenizer.decode(ids[:n], skip_special_tokens=False)  # noqa: E731
    start = decode(len(ids)).find(close_tag)
    if start < 0:
        return len(ids), False
    low, high = 0, len(ids)          # largest n whose decoded prefix stays within the text before the tag
    while low < high:
        mid = (low + high + 1) // 2
        if len(decode(mid)) <= start:
            low = mid
        else:
            high = mid - 1
    return low, True
