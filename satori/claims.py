"""Arithmetic claims in a solution's steps, checked exactly.

A claim is a run such as ``7 + 4 = 11`` or ``1/8 + 5/16 = 2/16 + 5/16``: numeric expressions
(integers, decimals, ``+ - * /``, parentheses, unary minus) joined by ``=``. It holds when every
side has the same exact value (``fractions.Fraction``). Runs touching letters (``5x = 10``) are
not claims. Model text stays data: a small recursive-descent parser reads it, with bounded
number length, expression size and nesting, so nothing is executed and no call can run long.

Only ``<|continue|>`` and ``<|explore|>`` steps are read: a ``<|reflect|>`` step may restate a
wrong claim on purpose ("Wait, 2 - 5 = 3 is wrong").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from satori.coat import REFLECT, split_steps

MAX_DIGITS = 15       # longer numbers make the run "not a claim"
MAX_TOKENS = 64       # per side
MAX_DEPTH = 8         # parenthesis nesting

_RUN_RE = re.compile(r"[0-9().+\-*/= ]+")
_TOKEN_RE = re.compile(r"\s*(\d+(?:\.\d+)?|[()+\-*/])")


@dataclass(frozen=True)
class Claim:
    """One claim as the solution writes it, whether all its sides are equal, and where it sits:
    ``text == solution[start:end]``."""

    text: str
    holds: bool
    start: int
    end: int

    @property
    def result_start(self) -> int:
        """Offset of the claim's first ``=``: what follows is what the writer computed."""
        return self.start + self.text.index("=")


class NotAnExpression(ValueError):
    """The text is not a numeric expression this reader accepts."""


def find_claims(text: str) -> list[Claim]:
    """Every claim in the ``<|continue|>`` and ``<|explore|>`` steps of ``text``, in order."""
    claims = []
    steps = split_steps(text)
    offset = len(text) - sum(len(step.action) + len(step.text) for step in steps)  # text before the first step
    for step in steps:
        offset += len(step.action)
        step_offset, offset = offset, offset + len(step.text)
        if step.action == REFLECT:
            continue
        for match in _RUN_RE.finditer(step.text):
            raw = match.group(0)
            run = raw.strip().rstrip(".").rstrip()
            start = match.start() + len(raw) - len(raw.lstrip())
            end = start + len(run)
            if (start > 0 and step.text[start - 1].isalnum()) or (end < len(step.text) and step.text[end].isalnum()):
                continue  # part of "5x = 10" or "x2"
            sides = run.split("=")
            if len(sides) < 2:
                continue
            try:
                values = [evaluate(side) for side in sides]
            except NotAnExpression:
                continue
            holds = None not in values and all(v == values[0] for v in values)
            claims.append(Claim(run, holds, step_offset + start, step_offset + end))
    return claims


def claim_token_marks(claims: list[Claim], token_ends: list[int]) -> list[int]:
    """Per token of a text: ``+1`` where it writes a holding claim's computed side (from its first
    ``=`` to its end), ``-1`` a failing one's, 0 elsewhere. ``claims`` are ``find_claims(text)``;
    ``token_ends[i]`` is the end offset in the text of token ``i``'s text
    (``satori.tokenization.ActionKeepingDecoder.token_ends``)."""
    marks = [0] * len(token_ends)
    for claim in claims:
        low, high = claim.result_start, claim.end
        for i, end in enumerate(token_ends):
            begin = token_ends[i - 1] if i else 0
            if begin < high and end > low and end > begin:
                marks[i] = 1 if claim.holds else -1
    return marks


def claim_share(claims: list[Claim]) -> float | None:
    """Share of ``claims`` (``find_claims(text)``) that hold; None when there are none."""
    return sum(c.holds for c in claims) / len(claims) if claims else None


def evaluate(expression: str) -> Fraction | None:
    """The exact value of a numeric expression; None on division by zero.

    Raises :class:`NotAnExpression` when ``expression`` is not one (empty, stray characters,
    unbalanced, too long or too deep).
    """
    tokens = _tokenize(expression)
    parser = _Parser(tokens)
    value = parser.expression(0)
    if parser.position != len(tokens):
        raise NotAnExpression(expression)
    return value


def _tokenize(expression: str) -> list[str]:
    tokens, position = [], 0
    expression = expression.rstrip()
    while position < len(expression):
        match = _TOKEN_RE.match(expression, position)
        if match is None:
            raise NotAnExpression(expression)
        token = match.group(1)
        if token[0].isdigit() and len(token.replace(".", "")) > MAX_DIGITS:
            raise NotAnExpression(expression)
        tokens.append(token)
        position = match.end()
    if not tokens or len(tokens) > MAX_TOKENS:
        raise NotAnExpression(expression)
    return tokens


class _Parser:
    """expression := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*;
    factor := '-' factor | '(' expression ')' | number. Division by zero gives None."""

    def __init__(self, tokens: list[str]):
        self.tokens, self.position = tokens, 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise NotAnExpression("unexpected end")
        self.position += 1
        return token

    def expression(self, depth: int) -> Fraction | None:
        value = self.term(depth)
        while self._peek() in ("+", "-"):
            op, right = self._take(), self.term(depth)
            value = None if value is None or right is None else value + right if op == "+" else value - right
        return value

    def term(self, depth: int) -> Fraction | None:
        value = self.factor(depth)
        while self._peek() in ("*", "/"):
            op, right = self._take(), self.factor(depth)
            if value is None or right is None or (op == "/" and right == 0):
                value = None
            else:
                value = value * right if op == "*" else value / right
        return value

    def factor(self, depth: int) -> Fraction | None:
        token = self._take()
        if token == "-":
            if depth >= MAX_DEPTH:
                raise NotAnExpression("too deep")
            value = self.factor(depth + 1)
            return None if value is None else -value
        if token == "(":
            if depth >= MAX_DEPTH:
                raise NotAnExpression("too deep")
            value = self.expression(depth + 1)
            if self._take() != ")":
                raise NotAnExpression("unbalanced")
            return value
        if token[0].isdigit():
            return Fraction(token)
        raise NotAnExpression(f"unexpected {token!r}")
