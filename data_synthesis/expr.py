"""Structured solution states for the procedural families, valued exactly with sympy.

Two state kinds: an expression tree (``Num`` leaves holding a possibly unreduced fraction,
``Op`` nodes for ``+ - *``) and a linear equation ``a*x + b = c*x + d``. States are built by
this package only (never parsed from model text); they serialise to plain JSON lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from typing import Union

import sympy

PRECEDENCE = {"+": 1, "-": 1, "*": 2}


@dataclass(frozen=True)
class Num:
    """A number ``num/den`` kept as written (``9/12`` stays unreduced until a step reduces it)."""

    num: int
    den: int = 1

    def reduced(self) -> "Num":
        g = gcd(self.num, self.den) or 1
        sign = -1 if self.den < 0 else 1
        return Num(sign * self.num // g, sign * self.den // g)


@dataclass(frozen=True)
class Op:
    op: str
    left: "Expr"
    right: "Expr"


Expr = Union[Num, Op]


@dataclass(frozen=True)
class Equation:
    """``a*x + b = c*x + d`` with rational coefficients (sympy Rationals)."""

    a: sympy.Rational
    b: sympy.Rational
    c: sympy.Rational
    d: sympy.Rational


def value(expr: Expr) -> sympy.Rational:
    """Exact value of ``expr`` (sympy arithmetic on the structure)."""
    if isinstance(expr, Num):
        return sympy.Rational(expr.num, expr.den)
    left, right = value(expr.left), value(expr.right)
    return {"+": left + right, "-": left - right, "*": left * right}[expr.op]


def root(eq: Equation) -> sympy.Rational | None:
    """The solution of ``eq``, or None when it has none or infinitely many."""
    slope = eq.a - eq.c
    return None if slope == 0 else (eq.d - eq.b) / slope


def format_number(x: sympy.Rational | int) -> str:
    """``7``, ``-3``, ``19/12``, ``-1/2``."""
    x = sympy.Rational(x)
    return str(x.p) if x.q == 1 else f"{x.p}/{x.q}"


def render_num(n: Num, bare: bool = False) -> str:
    text = str(n.num) if n.den == 1 else f"{n.num}/{n.den}"
    return f"({text})" if n.num < 0 and not bare else text


def render(expr: Expr, bare: bool = True) -> str:
    """Infix text with only the needed parentheses: ``(17 + 25) * 3 - 8``."""
    if isinstance(expr, Num):
        return render_num(expr, bare)
    prec = PRECEDENCE[expr.op]
    left = render(expr.left, False)
    right = render(expr.right, False)
    if isinstance(expr.left, Op) and PRECEDENCE[expr.left.op] < prec:
        left = f"({left})"
    if isinstance(expr.right, Op) and PRECEDENCE[expr.right.op] <= prec:
        right = f"({right})"
    return f"{left} {expr.op} {right}"


def render_side(coef: sympy.Rational, const: sympy.Rational) -> str:
    """``3x + 7``, ``-x``, ``5``, ``2x - 1/2``."""
    parts = []
    if coef != 0:
        c = "" if coef == 1 else "-" if coef == -1 else format_number(coef)
        parts.append(f"{c}x")
    if const != 0 or not parts:
        if parts:
            parts.append(f"{'-' if const < 0 else '+'} {format_number(abs(const))}")
        else:
            parts.append(format_number(const))
    return " ".join(parts)


def render_equation(eq: Equation) -> str:
    return f"{render_side(eq.a, eq.b)} = {render_side(eq.c, eq.d)}"


def first_reducible(expr: Expr, path: tuple[int, ...] = ()) -> tuple[tuple[int, ...], Op] | None:
    """Path and node of the leftmost ``Op`` whose children are both numbers (post-order)."""
    if isinstance(expr, Num):
        return None
    for index, child in enumerate((expr.left, expr.right)):
        found = first_reducible(child, path + (index,))
        if found is not None:
            return found
    return path, expr


def get(expr: Expr, path: tuple[int, ...]) -> Expr:
    for index in path:
        expr = (expr.left, expr.right)[index]
    return expr


def replace(expr: Expr, path: tuple[int, ...], new: Expr) -> Expr:
    """``expr`` with the node at ``path`` replaced by ``new``."""
    if not path:
        return new
    if path[0] == 0:
        return Op(expr.op, replace(expr.left, path[1:], new), expr.right)
    return Op(expr.op, expr.left, replace(expr.right, path[1:], new))


def to_json(state: Expr | Equation) -> list:
    """Plain-JSON form: ``["n", num, den]``, ``[op, left, right]`` or ``["eq", a, b, c, d]``."""
    if isinstance(state, Num):
        return ["n", state.num, state.den]
    if isinstance(state, Op):
        return [state.op, to_json(state.left), to_json(state.right)]
    return ["eq", *(format_number(v) for v in (state.a, state.b, state.c, state.d))]


def from_json(data: list) -> Expr | Equation:
    """Inverse of :func:`to_json`; raises ValueError on anything else (input is a spec, not model text)."""
    if not isinstance(data, list) or not data:
        raise ValueError(f"not a structured state: {data!r}")
    tag = data[0]
    if tag == "n" and len(data) == 3 and all(isinstance(v, int) for v in data[1:]) and data[2] != 0:
        return Num(data[1], data[2])
    if tag in PRECEDENCE and len(data) == 3:
        return Op(tag, from_json(data[1]), from_json(data[2]))
    if tag == "eq" and len(data) == 5:
        return Equation(*(_rational(v) for v in data[1:]))
    raise ValueError(f"not a structured state: {data!r}")


def _rational(text: str) -> sympy.Rational:
    num, _, den = str(text).partition("/")
    return sympy.Rational(int(num), int(den or 1))
