"""Small, pure-Python helpers for LaTeX answer markup: finding balanced ``\\boxed{...}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])\s*")
_BARE_TOKEN_RE = re.compile(r"[^\s$\\{}]+")
_BRACE_RE = re.compile(r"\\[{}]|[{}]")  # an escaped brace is one token, never a delimiter


@dataclass(frozen=True)
class BoxSpan:
    """One ``\\boxed{content}``: ``start`` at the backslash, ``end`` after the closing brace."""

    start: int
    end: int
    content: str


class UnbalancedBox(ValueError):
    """A ``\\boxed{`` whose brace never closes, or a box nested inside another."""


def find_boxes(text: str, strict: bool = False) -> list[BoxSpan]:
    """All top-level balanced ``\\boxed{...}`` / ``\\fbox{...}`` spans, in order.

    ``\\boxed 5`` (a single token without braces) is accepted as content ``5``. An unclosed
    box is skipped, or raises :class:`UnbalancedBox` with ``strict``; so does a nested box
    with ``strict``. Linear in ``len(text)``, however many boxes are left unclosed.
    """
    spans: list[BoxSpan] = []
    closing = brace_partners(text)
    pos = 0
    while True:
        match = _BOX_RE.search(text, pos)
        if match is None:
            return spans
        open_at = match.end()
        if open_at < len(text) and text[open_at] == "{":
            close = closing.get(open_at, -1)
            if close < 0:
                if strict:
                    raise UnbalancedBox(f"\\boxed{{ opened at offset {match.start()} is never closed")
                pos = open_at + 1
                continue
            content = text[open_at + 1: close]
            if strict and _BOX_RE.search(content):
                raise UnbalancedBox(f"\\boxed at offset {match.start()} holds another \\boxed")
            spans.append(BoxSpan(match.start(), close + 1, content))
            pos = close + 1
        else:
            token = _BARE_TOKEN_RE.match(text, open_at)
            if token is not None:
                spans.append(BoxSpan(match.start(), token.end(), token.group(0)))
            pos = token.end() if token is not None else open_at


def brace_partners(text: str) -> dict[int, int]:
    """Index of each ``{`` that closes -> index of its ``}`` (escaped braces ignored); one linear pass."""
    partners: dict[int, int] = {}
    opened: list[int] = []
    for match in _BRACE_RE.finditer(text):
        if match.group(0) == "{":
            opened.append(match.start())
        elif match.group(0) == "}" and opened:
            partners[opened.pop()] = match.start()
    return partners


def last_boxed(text: str) -> str | None:
    """Content of the last balanced box in ``text``, or None."""
    spans = find_boxes(text)
    return spans[-1].content if spans else None


# Commands whose doubled backslash (``\\frac``) marks text escaped once more than LaTeX needs.
_COMMON_COMMANDS = (
    "frac|dfrac|tfrac|sqrt|left|right|boxed|fbox|begin|end|text|textbf|mathrm|mathbf|mathbb|cdot|times|div|pi|infty"
    "|leq?|geq?|neq?|lt|gt|pm|mp|circ|cup|cap|emptyset|ldots|cdots|dots|quad|qquad|binom|overline|sin|cos|tan|log|ln"
    "|alpha|beta|gamma|theta|angle|triangle|displaystyle|in"
)
_DOUBLED_COMMAND_RE = re.compile(r"(?<!\\)\\\\(?:(?:" + _COMMON_COMMANDS + r")(?![A-Za-z])|[()\[\]])")
_SINGLE_COMMAND_RE = re.compile(r"(?<!\\)\\(?:" + _COMMON_COMMANDS + r")(?![A-Za-z])")
_ESCAPED_NEWLINE_RE = re.compile(r"(?<!\\)\\n(?![a-z])")


def unescape_doubled_backslashes(text: str) -> str:
    """Halve every backslash pair when the LaTeX arrives JSON-escaped (``\\\\frac{1}{2}``).

    Escaped text is recognised by a common command written with two backslashes while none is
    written with one; a matrix row break (``1 \\\\ 2``) alone is not a sign. A literal ``\\n``
    left by the escaping becomes a newline. Linear in ``len(text)``.
    """
    if "\\\\" not in text or not _DOUBLED_COMMAND_RE.search(text) or _SINGLE_COMMAND_RE.search(text):
        return text
    return _ESCAPED_NEWLINE_RE.sub("\n", text.replace("\\\\", "\\"))
