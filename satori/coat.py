"""The Chain-of-Action-Thought (COAT) format.

A COAT trajectory is a sequence of steps, each opened by one meta-action token::

    <|continue|>First, 3 + 4 = 7.
    <|reflect|>Check: 7 - 4 = 3, so the sum is right.
    <|continue|>The answer is \\boxed{7}.

``<|continue|>`` advances the solution, ``<|reflect|>`` checks what came before and
``<|explore|>`` abandons the current path for another. A step's text is everything up to
the next action token, so ``render(parse(text)) == text`` exactly. The final answer is the
last balanced ``\\boxed{...}``.

Pure Python: no torch, no tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from satori.latex import UnbalancedBox, find_boxes

CONTINUE = "<|continue|>"
REFLECT = "<|reflect|>"
EXPLORE = "<|explore|>"
ACTION_TOKENS: tuple[str, ...] = (CONTINUE, REFLECT, EXPLORE)
ACTION_NAMES: dict[str, str] = {CONTINUE: "continue", REFLECT: "reflect", EXPLORE: "explore"}

_ACTION_RE = re.compile("|".join(re.escape(t) for t in ACTION_TOKENS))
_SPECIAL_RE = re.compile(r"<\|[A-Za-z0-9_]+\|>")


class CoatFormatError(ValueError):
    """A trajectory breaks the COAT format; the message says where and how."""


@dataclass(frozen=True)
class Step:
    """One COAT step: the action token that opens it and the text up to the next one."""

    action: str
    text: str

    @property
    def name(self) -> str:
        """``"continue"``, ``"reflect"`` or ``"explore"``."""
        return ACTION_NAMES[self.action]


def parse(text: str) -> list[Step]:
    """Split a trajectory into steps; raises :class:`CoatFormatError` if it is malformed.

    Malformed means: text (even whitespace) before the first action token, no action token,
    an unknown ``<|...|>`` token, an empty step, or an unclosed or nested ``\\boxed{``.
    """
    problems = find_problems(text)
    if problems:
        raise CoatFormatError(problems[0])
    return split_steps(text)


def split_steps(text: str) -> list[Step]:
    """The steps of ``text`` without validating it (text before the first action token is dropped)."""
    starts = [m.start() for m in _ACTION_RE.finditer(text)]
    steps = []
    for i, start in enumerate(starts):
        action = _ACTION_RE.match(text, start).group(0)
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        steps.append(Step(action, text[start + len(action): end]))
    return steps


def find_problems(text: str) -> list[str]:
    """Every format problem in ``text``, each a message with its character offset; [] if valid."""
    problems: list[str] = []
    first = _ACTION_RE.search(text)
    if first is None:
        return ["no action token: a COAT trajectory starts with <|continue|>, <|reflect|> or <|explore|>"]
    if first.start() > 0:
        problems.append(f"text before the first action token (offset 0-{first.start()}): "
                        f"{text[:min(first.start(), 40)]!r}")
    for match in _SPECIAL_RE.finditer(text):
        if match.group(0) not in ACTION_TOKENS:
            problems.append(f"unknown token {match.group(0)} at offset {match.start()}")
    for step_start, step in zip((m.start() for m in _ACTION_RE.finditer(text)), split_steps(text)):
        if not step.text.strip():
            problems.append(f"empty {step.name} step at offset {step_start}")
    try:
        find_boxes(text, strict=True)
    except UnbalancedBox as exc:
        problems.append(str(exc))
    return problems


def is_valid(text: str, require_answer: bool = False) -> bool:
    """True when ``text`` parses as COAT (and, with ``require_answer``, has a boxed answer)."""
    return not find_problems(text) and (not require_answer or final_answer(text) is not None)


def render(steps: list[Step]) -> str:
    """Inverse of :func:`parse`."""
    return "".join(step.action + step.text for step in steps)


def visible_text(text: str) -> str:
    """``text`` with the action tokens removed (what a reader sees)."""
    return _ACTION_RE.sub("", text)


def final_answer(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}`` in the whole text, or None."""
    boxes = find_boxes(text)
    return boxes[-1].content if boxes else None


def step_offsets(text: str) -> list[int]:
    """Character offset where each step starts (the position of its action token)."""
    return [m.start() for m in _ACTION_RE.finditer(text)]


def count_actions(text: str) -> dict[str, int]:
    """How many steps of each kind, e.g. ``{"continue": 3, "reflect": 1, "explore": 0}``."""
    counts = dict.fromkeys(ACTION_NAMES.values(), 0)
    for match in _ACTION_RE.finditer(text):
        counts[ACTION_NAMES[match.group(0)]] += 1
    return counts


def before_first(text: str, action: str = REFLECT) -> str | None:
    """The part of ``text`` before the first ``action`` step, or None if there is none."""
    index = text.find(action)
    return text[:index] if index >= 0 else None


def restart_prefix(text: str, backtrack: int) -> str | None:
    """The trajectory cut ``backtrack`` steps before its end, with ``<|reflect|>`` appended.

    ``backtrack=1`` keeps every step but the last. Returns None when the trajectory has
    too few steps to keep at least one.
    """
    offsets = step_offsets(text)
    if backtrack < 1 or backtrack >= len(offsets):
        return None
    return text[: offsets[len(offsets) - backtrack]] + REFLECT


def token_step_starts(token_ids: list[int], action_ids: set[int] | frozenset[int]) -> list[int]:
    """Indices in ``token_ids`` of the action tokens (step starts at token level)."""
    return [i for i, token in enumerate(token_ids) if token in action_ids]
