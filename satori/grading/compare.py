"""Mathematical equivalence of two normalized answers (runs inside a verifier worker).

LaTeX is parsed only by latex2sympy2_extended's ANTLR grammar into sympy objects; no string
is ever handed to ``eval``/``sympify``/``parse_expr``. Comparison is structural first, then
numeric (relative tolerance ``rel_tol`` when either side holds a decimal), then symbolic
(agreement at sample points of both signs; ``simplify`` of the difference when too few
points are defined).

Semantics, one rule per kind of answer:
- equation vs value: ``x=3`` equals ``3`` when one side of the equation is a label (a symbol,
  ``f(x)``, or a product or ratio of symbols: ``PQ=3``, ``h:H=2:9``, ``\\frac{a}{b}=2``), and
  ``2+3=5`` equals ``5`` (a computation stands for its result), as does an identity
  ``n + n(n-1) = n^2`` its last side (a derivation); ``x+1=5`` is not ``5``; a chain ``x=2+3=5`` reads as
  ``x=5``; two equations are equal when their ``lhs - rhs`` differ by a non-zero constant factor;
- finite sets and bare comma lists (``1, 2``) are unordered; tuples and vectors are ordered;
  a list of distinct labels (``PQ=3, RS=8``) matches the same labels with equal values, or bare
  values in its written order (``3, 8``);
  ``(1, 2)`` is read as an open interval or a point, whichever the other side is;
- intervals and unions compare endpoints (with tolerance) and openness;
- a percent answer also matches its value / 100, a degree answer also matches its radians.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import sympy
from antlr4.atn.PredictionMode import PredictionMode
from sympy.core.function import AppliedUndef
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, _Latex2Sympy

_CONVERSION = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False,
                               interpret_contains_as_eq=True, lowercase_symbols=False)
_MAX_DIGITS = 100_000  # refuse numbers with more digits than this instead of computing them
_EXACT_REL = 1e-12
_POINTS_NEEDED = 4
_SAMPLE_VALUES = tuple(sympy.Rational(n, d) for n, d in
                       ((-7, 3), (5, 2), (-3, 7), (11, 5), (13, 4), (-17, 6), (2, 9), (19, 7)))


# Common answer shapes, parsed once per worker so ANTLR's prediction caches are warm.
WARM_UP = (
    "12", "-3.5", "\\frac{1}{2}", "2\\frac{1}{2}", "\\sqrt{2}", "3\\sqrt{3}/2", "\\sqrt[3]{2}", "2^{10}", "x^{-1}",
    "\\frac{\\pi}{2}", "\\pi^2/8", "5\\pi^2/4", "1.5\\times 10^{3}", "2x+2", "2(x+1)", "(x-1)(x+2)", "x^2+y^2=1",
    "y=2x+1", "x \\leq 3", "x>3", "1 \\pm \\sqrt{2}", "(1,2)", "(1, \\frac{\\pi}{2})", "[1,2)", "(3,4]",
    "(-\\infty, 2) \\cup (3, \\infty)", "\\{1,2\\}", "1, 2, 3", "(1,2,3)", "x=1, y=2",
    "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\sin x", "\\cos^2 x",
    "\\ln 2", "\\log_2 8", "e^{x}", "\\binom{5}{2}", "5!", "\\infty", "-\\infty", "\\frac{a}{b}", "abc", "f(x)",
)


class ParseError(ValueError):
    """An answer the grammar cannot read, or one that would be too large to evaluate."""


class _Converter(_Latex2Sympy):
    """latex2sympy2_extended's converter, optionally parsing in ANTLR's fast SLL mode.

    SLL prediction is ~50x faster on this grammar; when it reports a syntax error the
    input is parsed again in full LL mode, so accepted inputs are unchanged.
    """

    def __init__(self, fast: bool):
        super().__init__(config=_CONVERSION)
        self.fast = fast

    def create_parser(self, latex_str: str) -> Any:
        parser = super().create_parser(latex_str)
        if self.fast:
            parser._interp.predictionMode = PredictionMode.SLL
        return parser


def _parse_latex(latex: str) -> Any:
    try:
        return _Converter(fast=True).parse(latex)
    except RecursionError:
        raise
    except Exception:
        return _Converter(fast=False).parse(latex)


@functools.lru_cache(maxsize=4096)
def parse(latex: str) -> Any:
    """sympy object for ``latex`` (already normalized); raises :class:`ParseError`.

    Cached: in RL many samples share one gold answer (sympy objects are immutable).
    """
    try:
        obj = _parse_latex(latex)
    except RecursionError:
        raise ParseError("answer nests too deeply") from None
    except Exception as exc:  # the ANTLR listener raises a bare Exception on syntax errors
        raise ParseError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    _refuse_huge(obj)
    if isinstance(obj, sympy.MatrixBase):
        return sympy.ImmutableMatrix(obj)
    return _chain_as_equation(_evaluated_percent(obj))


def _evaluated_percent(obj: Any) -> Any:
    """The parser keeps a ``\\%`` inside an answer as an unevaluated ``1/100``, which numbers cannot be read from."""
    if not isinstance(obj, sympy.Basic) or not obj.has(sympy.UnevaluatedExpr):
        return obj
    if isinstance(obj, sympy.Eq):   # rebuilt unevaluated: Eq(7/40, 17.5) must not become False
        return sympy.Eq(_evaluated_percent(obj.lhs), _evaluated_percent(obj.rhs), evaluate=False)
    return obj.xreplace({u: u.args[0] for u in obj.atoms(sympy.UnevaluatedExpr)})


def _chain_as_equation(obj: Any) -> Any:
    """``x = 2+3 = 5`` (parsed as a conjunction of equations) as ``x = 5``: its first and last sides."""
    if not isinstance(obj, sympy.And):
        return obj
    links = list(getattr(obj, "_unsorted_args", obj.args))
    if all(isinstance(link, sympy.Eq) for link in links) and all(a.rhs == b.lhs for a, b in zip(links, links[1:])):
        return sympy.Eq(links[0].lhs, links[-1].rhs, evaluate=False)
    return obj


def equivalent(gold: Any, pred: Any, rel_tol: float, gold_flags: tuple[bool, bool] = (False, False),
               pred_flags: tuple[bool, bool] = (False, False)) -> bool:
    """True if ``pred`` equals ``gold``; flags are ``(percent, degrees)`` of each side."""
    for g in _readings(gold, *gold_flags):
        for p in _readings(pred, *pred_flags):
            if _equal(g, p, rel_tol):
                return True
    return False


def equivalent_multi(golds: list[Any], pred: Any, rel_tol: float) -> bool:
    """Several gold answers (e.g. OlympiadBench): ``pred`` must list all of them, in any order."""
    return _match_unordered(golds, _elements(pred), rel_tol)


def _readings(obj: Any, percent: bool, degrees: bool) -> list[Any]:
    """``obj`` and, with a percent or degree sign, its value / 100 or in radians (for an equation
    ``\\frac{14}{80} \\times 100\\% = 17.5\\%``, the sign's last side)."""
    readings = [obj]
    equation = isinstance(obj, sympy.Eq) and all(isinstance(side, sympy.Expr) for side in obj.args)
    value = obj.rhs if equation else obj
    if isinstance(value, sympy.Expr):
        for flag, factor in ((percent, sympy.Rational(1, 100)), (degrees, sympy.pi / 180)):
            if flag:
                readings.append(sympy.Eq(obj.lhs, value * factor, evaluate=False) if equation else value * factor)
    return readings


def _equal(g: Any, p: Any, tol: float) -> bool:
    if g == p and not _has_float(g):
        return True
    if isinstance(g, sympy.Eq) or isinstance(p, sympy.Eq):
        return _equal_equations(g, p, tol)
    if isinstance(g, _CONDITIONS) or isinstance(p, _CONDITIONS):
        return _equal_relations(g, p, tol)
    if _is_list_of_inequalities(g) or _is_list_of_inequalities(p):  # "x < -1 or x > 1"
        return _equal_sets(_as_set(g), _as_set(p), tol)
    if isinstance(g, sympy.MatrixBase) or isinstance(p, sympy.MatrixBase):
        return _equal_matrices(g, p, tol)
    if isinstance(g, sympy.FiniteSet):
        labelled = _labelled(g)
        if labelled is not None:
            return _equal_labelled(labelled, p, tol)
        return _match_unordered(_elements(g), _elements(p), tol)
    if isinstance(g, sympy.Tuple):
        return _match_ordered(list(g.args), _ordered_elements(p), tol)
    if isinstance(g, (sympy.Interval, sympy.Union)) or isinstance(p, (sympy.Interval, sympy.Union)):
        return _equal_sets(g, p, tol)
    if isinstance(p, sympy.FiniteSet) and len(_elements(p)) == 1:
        return _equal(g, _elements(p)[0], tol)
    if isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr):
        return _equal_expressions(g, p, tol)
    return bool(g == p)


def _equal_equations(g: Any, p: Any, tol: float) -> bool:
    if isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq):
        if not all(isinstance(side, sympy.Expr) for side in (*g.args, *p.args)):  # n = \{1, 2\}
            return (_equal(g.lhs, p.lhs, tol) and _equal(g.rhs, p.rhs, tol)) or (
                _equal(g.lhs, p.rhs, tol) and _equal(g.rhs, p.lhs, tol))
        dg, dp = g.lhs - g.rhs, p.lhs - p.rhs
        if _equal_expressions(dg, dp, tol) or _equal_expressions(dg, -dp, tol):
            return True
        ratio = sympy.simplify(dg / dp)
        return bool(ratio.is_number and ratio != 0 and ratio.is_finite)
    equation, other = (g, p) if isinstance(g, sympy.Eq) else (p, g)
    if isinstance(other, sympy.core.relational.Relational):
        return False
    if _is_label(equation.rhs) and _equal(equation.lhs, other, tol):
        return True
    if not _equal(equation.rhs, other, tol):
        return False
    return _is_label(equation.lhs) or _is_computation(equation.lhs) or _is_identity(equation, tol)


def _is_label(expr: Any) -> bool:
    """A name for a quantity: a symbol, ``f(x)``, a tuple of symbols, or a product or ratio of those."""
    if isinstance(expr, (sympy.Symbol, AppliedUndef)):
        return True
    if isinstance(expr, sympy.Tuple):
        return all(isinstance(a, sympy.Symbol) for a in expr.args)
    if isinstance(expr, (sympy.Mul, sympy.Pow)):   # "PQ", "\\frac{a}{b}", and "f(f(20))" read as f*f(20)
        factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
        return all(isinstance(f, (sympy.Symbol, AppliedUndef)) or (
            isinstance(f, sympy.Pow) and isinstance(f.base, sympy.Symbol) and f.exp == -1) for f in factors)
    return False


def _is_computation(expr: Any) -> bool:
    """A closed arithmetic expression (``2+3``, ``\\frac{12}{4}``) whose value the other side states."""
    return isinstance(expr, sympy.Expr) and not expr.free_symbols and not expr.is_Atom


def _is_identity(equation: Any, tol: float) -> bool:
    """Both sides are the same expression (``n + n(n-1) = n^2``): a derivation whose last side is the result."""
    return all(isinstance(side, sympy.Expr) for side in equation.args) and _equal_expressions(
        equation.lhs, equation.rhs, tol)


def _labelled(obj: Any) -> list[tuple[Any, Any]] | None:
    """``[(label, value)]`` in written order when ``obj`` lists equations with distinct labels, else None."""
    items = list(getattr(obj, "_unsorted_args", obj.args))
    if len(items) < 2 or not all(isinstance(i, sympy.Eq) and _is_label(i.lhs) for i in items):
        return None
    labels = [i.lhs for i in items]
    if any(a == b for k, a in enumerate(labels) for b in labels[k + 1:]):
        return None
    return [(i.lhs, i.rhs) for i in items]


def _equal_labelled(golds: list[tuple[Any, Any]], p: Any, tol: float) -> bool:
    """Labelled gold values against the same labels, or against bare values in the written order."""
    preds = _labelled(p) if isinstance(p, sympy.FiniteSet) else None
    if preds is None:
        return _match_ordered([value for _, value in golds], _ordered_elements(p), tol)
    if len(preds) != len(golds):
        return False
    for label, value in golds:
        match = [v for other, v in preds if _equal(other, label, tol)]
        if len(match) != 1 or not _equal(value, match[0], tol):
            return False
    return True


_POINTS = (sympy.Tuple, sympy.FiniteSet)  # a bare list "x=2, y=3" can stand for the point (2, 3)
_CONDITIONS = (sympy.core.relational.Relational, sympy.And, sympy.Or)
_FLIPPED = {sympy.StrictGreaterThan: sympy.StrictLessThan, sympy.GreaterThan: sympy.LessThan}


def _equal_relations(g: Any, p: Any, tol: float) -> bool:
    if isinstance(g, sympy.core.relational.Relational) and isinstance(p, sympy.core.relational.Relational):
        g_kind, g_diff = _canonical_relation(g)
        p_kind, p_diff = _canonical_relation(p)
        if g_kind is p_kind and _equal_expressions(g_diff, p_diff, tol):
            return True
    return _equal_sets(_as_set(g), _as_set(p), tol)


def _canonical_relation(rel: Any) -> tuple[type, Any]:
    """``(kind, lhs - rhs)`` with ``>``/``>=`` flipped into ``<``/``<=``."""
    kind = type(rel)
    if kind in _FLIPPED:
        return _FLIPPED[kind], rel.rhs - rel.lhs
    return kind, rel.lhs - rel.rhs


def _is_list_of_inequalities(obj: Any) -> bool:
    return isinstance(obj, sympy.FiniteSet) and len(obj.args) > 1 and all(
        isinstance(item, _CONDITIONS) and not isinstance(item, sympy.Eq) for item in obj.args)


def _as_set(obj: Any) -> Any:
    """A univariate inequality (or a list of them, joined by "or") as the set of reals it describes."""
    if _is_list_of_inequalities(obj) and len(obj.free_symbols) == 1:
        return sympy.Union(*(_as_set(item) for item in obj.args))
    if isinstance(obj, (sympy.core.relational.Relational, sympy.And, sympy.Or)) and len(obj.free_symbols) == 1:
        try:
            return obj.as_set()
        except Exception:
            return obj
    return obj


def _equal_sets(g: Any, p: Any, tol: float) -> bool:
    if isinstance(g, sympy.Interval) and isinstance(p, _POINTS) or (
            isinstance(p, sympy.Interval) and isinstance(g, _POINTS)):
        interval, point = (g, p) if isinstance(g, sympy.Interval) else (p, g)
        return (interval.left_open and interval.right_open
                and _match_ordered([interval.start, interval.end], _elements(point), tol))
    if isinstance(g, sympy.Interval) and isinstance(p, sympy.Interval):
        return (g.left_open == p.left_open and g.right_open == p.right_open
                and _equal(g.start, p.start, tol) and _equal(g.end, p.end, tol))
    if isinstance(g, sympy.Union) and isinstance(p, sympy.Union):
        if g == p:
            return True
        return _match_unordered(list(g.args), list(p.args), tol)
    if isinstance(g, sympy.Set) and isinstance(p, sympy.Set):
        return bool(g == p)
    return False


def _equal_matrices(g: Any, p: Any, tol: float) -> bool:
    if isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase):
        if g.shape != p.shape:
            return False
        return _match_ordered(list(g), list(p), tol)
    matrix, other = (g, p) if isinstance(g, sympy.MatrixBase) else (p, g)
    if 1 not in matrix.shape:
        return False
    return _match_ordered(list(matrix), _ordered_elements(other), tol)


def _elements(obj: Any) -> list[Any]:
    """Members of a set, list, tuple or point; an equation ``x=3`` contributes its value."""
    if isinstance(obj, sympy.FiniteSet):
        items = list(getattr(obj, "_unsorted_args", obj.args))
        if all(isinstance(i, sympy.Eq) and isinstance(i.lhs, sympy.Symbol) for i in items):
            items.sort(key=lambda i: i.lhs.name)  # "y=3, x=2" lists (x, y) = (2, 3)
    elif isinstance(obj, sympy.Tuple):
        items = list(obj.args)
    elif isinstance(obj, sympy.Interval) and obj.left_open and obj.right_open:
        items = [obj.start, obj.end]
    else:
        items = [obj]
    return [_equation_value(item) for item in items]


def _ordered_elements(obj: Any) -> list[Any]:
    if isinstance(obj, sympy.MatrixBase):
        return list(obj)
    return _elements(obj)


def _equation_value(item: Any) -> Any:
    if isinstance(item, sympy.Eq) and _is_label(item.lhs):
        return item.rhs
    return item


def _match_ordered(golds: list[Any], preds: list[Any], tol: float) -> bool:
    return len(golds) == len(preds) and all(_equal(_equation_value(g), p, tol) for g, p in zip(golds, preds))


def _match_unordered(golds: list[Any], preds: list[Any], tol: float) -> bool:
    """A one-to-one matching of equal elements (greedy is exact for an equivalence relation)."""
    if len(golds) != len(preds):
        return False
    remaining = list(preds)
    for g in golds:
        g = _equation_value(g)
        for i, p in enumerate(remaining):
            if _equal(g, p, tol):
                del remaining[i]
                break
        else:
            return False
    return True


def _equal_expressions(g: Any, p: Any, tol: float) -> bool:
    if g == p and not _has_float(g):
        return True
    g, p = _imaginary_unit(g, p), _imaginary_unit(p, g)
    g, p = _real_odd_roots(g), _real_odd_roots(p)
    rel = tol if (_has_float(g) or _has_float(p)) else _EXACT_REL
    symbols = g.free_symbols | p.free_symbols
    if not symbols:
        if isinstance(g, sympy.Rational) and isinstance(p, sympy.Rational):
            return bool(g == p)
        return _close(g, p, rel)
    sampled = _same_at_sample_points(g, p, symbols, rel)
    if sampled is not None:
        return sampled
    try:  # too few points where both sides are defined: fall back to simplify
        return bool(sympy.simplify(g - p) == 0)
    except Exception:
        return False


def _imaginary_unit(expr: Any, other: Any) -> Any:
    """Read the symbol ``i`` as the imaginary unit when the other side is complex (``\\sqrt{-1}``)."""
    unit = next((s for s in expr.free_symbols if s.name == "i"), None)
    if unit is not None and (other.has(sympy.I) or (other.is_number and other.is_real is False)):
        return expr.subs(unit, sympy.I)
    return expr


def _real_odd_roots(expr: Any) -> Any:
    """``\\sqrt[3]{-8}`` is -2 (the real root), not sympy's principal complex root."""
    def is_odd_root_of_negative(e: Any) -> bool:
        return (e.is_Pow and e.exp.is_Rational and e.exp.q % 2 == 1 and e.exp.q > 1
                and e.base.is_number and e.base.is_negative is True)

    return expr.replace(is_odd_root_of_negative, lambda e: sympy.real_root(e.base, e.exp.q) ** e.exp.p)


def _close(g: Any, p: Any, rel: float) -> bool:
    """Numbers equal within relative tolerance, evaluated with 30 digits (no float under/overflow)."""
    try:
        a, b = sympy.N(g, 30), sympy.N(p, 30)
        if not (a.is_number and b.is_number) or a.has(sympy.nan, sympy.zoo) or b.has(sympy.nan, sympy.zoo):
            return False
        if a.is_infinite or b.is_infinite:
            return bool(a == b)
        return bool(abs(a - b) <= rel * max(abs(a), abs(b)))
    except (TypeError, ValueError, AttributeError):
        return False


def _same_at_sample_points(g: Any, p: Any, symbols: set, rel: float) -> bool | None:
    """Compare at fixed points of both signs: False on a clear mismatch, True if enough agree, else None."""
    agreed = 0
    ordered = sorted(symbols, key=str)
    for k in range(len(_SAMPLE_VALUES)):
        point = {s: _SAMPLE_VALUES[(k + 3 * j) % len(_SAMPLE_VALUES)] for j, s in enumerate(ordered)}
        try:
            a = complex(sympy.N(g.subs(point), 20))
            b = complex(sympy.N(p.subs(point), 20))
        except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError):
            continue
        if any(math.isnan(v.real) or math.isnan(v.imag) or math.isinf(abs(v)) for v in (a, b)):
            continue
        if abs(a - b) > max(rel * max(abs(a), abs(b)), 1e-9):
            return False
        agreed += 1
        if agreed == _POINTS_NEEDED:
            return True
    return None


def _has_float(obj: Any) -> bool:
    return isinstance(obj, sympy.Basic) and obj.has(sympy.Float)


def _refuse_huge(obj: Any) -> None:
    """Raise :class:`ParseError` for numbers with more than ``_MAX_DIGITS`` digits (``9^{9^{9^9}}``)."""
    if not isinstance(obj, sympy.Basic):
        return
    for node in sympy.preorder_traversal(obj):
        if isinstance(node, (sympy.Pow, sympy.factorial)) and _log10_size(node) > _MAX_DIGITS:
            raise ParseError("number too large to evaluate")


def _log10_size(node: Any) -> float:
    """Rough log10 of ``|node|`` for numeric powers/factorials (0 when not a plain number)."""
    if isinstance(node, sympy.Rational):
        return max(math.log10(abs(node.p)) if node.p else 0.0, math.log10(node.q), 0.0)
    if isinstance(node, sympy.Float):
        return max(math.log10(abs(float(node))), 0.0) if node != 0 else 0.0
    if isinstance(node, sympy.Pow):
        base, exponent = _log10_size(node.base), _log10_size(node.exp)
        if exponent > 15:
            return math.inf if base > 0 else 0.0
        if not node.exp.is_number:
            return 0.0
        try:
            return abs(float(node.exp)) * base
        except (TypeError, ValueError, OverflowError):
            return math.inf
    if isinstance(node, sympy.factorial):
        size = _log10_size(node.args[0])
        if size > 7:
            return math.inf
        n = float(node.args[0]) if node.args[0].is_number else 0.0
        return n * math.log10(max(n, 1.0))
    if isinstance(node, (sympy.Add, sympy.Mul)):
        return sum(_log10_size(arg) for arg in node.args)
    return 0.0
