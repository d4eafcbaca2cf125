"""Procedural problem families with exact gold answers and reference step-by-step solutions.

Each family samples a structured problem (an expression tree or a linear equation, see
``expr``; the ``word`` family tells an expression tree as a short GSM8K-style story), computes
its gold answer with sympy from that structure, and knows how to take one correct solution
step, or a step with a realistic mistake (``MISTAKE_KINDS``). Problems are assigned to
``train`` or ``test`` by a hash of their canonical text, so the two splits never share a
problem whatever the seed::

    from data_synthesis.families import generate_problems
    problems = generate_problems("linear", n=100, seed=0, split="test", difficulty=2)
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from pathlib import Path

import sympy

from data_synthesis.expr import (Equation, Expr, Num, Op, PRECEDENCE, first_reducible, format_number, from_json,
                                 get, render, render_equation, render_num, replace, root, to_json, value)
from satori.io import atomic_write_jsonl
from satori.problems import Problem

SPLITS = ("train", "test")
TEST_SHARE = 0.2          # share of the canonical-hash space that belongs to the test split
DIFFICULTIES = (0, 1, 2, 3)  # 0: single-digit warm-up level, sized for the tiny embedded default
MISTAKE_KINDS = ("slip", "carry", "sign", "precedence", "denominator")


@dataclass(frozen=True)
class SolutionStep:
    """One solution step from ``before`` to ``after``.

    ``claim`` is the local computation the step states (``local = result``), ``path`` the node
    of ``before`` it rewrites (expression families), ``text`` what the solution says.
    """

    before: object
    after: object
    claim: Op
    result: Expr
    text: str
    path: tuple[int, ...] = ()
    mistake: str | None = None
    claim_str: str | None = None

    def claim_text(self) -> str:
        """The claim as the solution writes it, e.g. ``42 * 3 = 126`` (``claim_str`` overrides)."""
        return self.claim_str or f"{render(self.claim)} = {render(self.result)}"


def split_of(canonical: str) -> str:
    """``"test"`` for a fixed share of problems (by hash of their canonical text), else ``"train"``."""
    bucket = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big") / 2 ** 64
    return "test" if bucket < TEST_SHARE else "train"


def wrong_int(op: str, x: int, y: int, kind: str, rng: random.Random) -> int | None:
    """A realistic wrong result for ``x op y`` (integers), or None when ``kind`` does not apply."""
    right = {"+": x + y, "-": x - y, "*": x * y}[op]
    if kind == "slip":
        delta = rng.choice([-2, -1, 1, 2, 10, -10]) if op != "*" else rng.choice([x, -x, y, -y, 10, -10])
        return right + delta if delta else right + 1
    if kind == "carry" and op == "+" and x > 0 and y > 0:
        digits, a, b, place = 0, x, y, 1
        while a or b:
            digits += ((a % 10 + b % 10) % 10) * place
            a, b, place = a // 10, b // 10, place * 10
        return digits if digits != right else None
    if kind == "sign" and op == "-" and x != y:
        return y - x
    return None


class ExpressionFamily:
    """Shared machinery for families whose states are expression trees."""

    name = ""
    kinds: tuple[str, ...] = ()

    def sample(self, rng: random.Random, difficulty: int) -> Expr:
        raise NotImplementedError

    def question(self, state: Expr) -> str:
        return f"Compute {render(state)}."

    def gold(self, state: Expr) -> sympy.Rational:
        return value(state)

    def is_final(self, state: Expr) -> bool:
        return isinstance(state, Num) and state == state.reduced()

    def final_value(self, state: Expr) -> sympy.Rational | None:
        return value(state) if self.is_final(state) else None

    def equivalent(self, before: Expr, after: Expr) -> bool:
        return value(before) == value(after)

    def step(self, state: Expr) -> SolutionStep | None:
        """The correct next step, or None when ``state`` is the final answer."""
        if isinstance(state, Num):
            return None if self.is_final(state) else self._make(state, (), state, state.reduced())
        path, node = first_reducible(state)
        return self._make(state, path, node, self.reduce(node))

    def reduce(self, node: Op) -> Expr:
        """The correct result of one reduction of ``node`` (whose children are numbers)."""
        raise NotImplementedError

    def mistake(self, state: Expr, kind: str, rng: random.Random) -> SolutionStep | None:
        """A step with a ``kind`` mistake, or None when that mistake does not fit ``state``."""
        if kind == "precedence":
            return self._precedence_slip(state)
        if isinstance(state, Num):
            return None
        path, node = first_reducible(state)
        wrong = self.wrong_reduce(node, kind, rng)
        if wrong is None or value(wrong) == value(self.reduce(node)):
            return None
        return self._make(state, path, node, wrong, mistake=kind)

    def wrong_reduce(self, node: Op, kind: str, rng: random.Random) -> Expr | None:
        raise NotImplementedError

    def _precedence_slip(self, state: Expr) -> SolutionStep | None:
        """Read ``a + b * c`` left to right: reduce ``a + b`` first."""
        for path, node in _nodes(state):
            right = node.right if isinstance(node, Op) else None
            if (isinstance(node, Op) and PRECEDENCE[node.op] == 1 and isinstance(node.left, Num)
                    and isinstance(right, Op) and right.op == "*" and isinstance(right.left, Num)):
                claim = Op(node.op, node.left, right.left)
                result = self.reduce(claim)
                if not isinstance(result, Num):
                    return None
                rewritten = Op("*", result, right.right)
                after = replace(state, path, rewritten)
                if value(after) == value(state):
                    return None
                return SolutionStep(state, after, claim, result, self._text(claim, result, after, not path),
                            path, "precedence")
        return None

    def _make(self, state: Expr, path: tuple[int, ...], node: Expr, result: Expr,
              mistake: str | None = None) -> SolutionStep:
        after = replace(state, path, result)
        claim, claim_str = (node, None) if isinstance(node, Op) else (Op("*", node, Num(1)),
                                                                      f"{render(node)} = {render(result)}")
        return SolutionStep(state, after, claim, result, self._text(node, result, after, not path), path, mistake, claim_str)

    def _text(self, node: Expr, result: Expr, after: Expr, whole: bool) -> str:
        text = f"{render(node)}{self._middle(node, result)} = {render(result)}"
        return text + ("." if whole else f", giving {render(after)}.")

    def _middle(self, node: Expr, result: Expr) -> str:
        """Text shown between a claim and its result (fractions show the unreduced form)."""
        return ""

    def check_text(self, steps: list[SolutionStep]) -> str:
        """A short verification of the last step (its inverse operation)."""
        last = next(s for s in reversed(steps) if s.claim_str is None)  # skip reductions such as 6/8 = 3/4
        x, y, r = last.claim.left, last.claim.right, value(last.result)
        inverse = {"+": "-", "-": "+", "*": "/"}[last.claim.op]
        y_text = f"({render_num(y, True)})" if inverse == "/" and y.den != 1 else render_num(y)
        return f"Check: {format_number(r)} {inverse} {y_text} = {render_num(x, True)}. Correct."


def _nodes(expr: Expr, path: tuple[int, ...] = ()):
    yield path, expr
    if isinstance(expr, Op):
        yield from _nodes(expr.left, path + (0,))
        yield from _nodes(expr.right, path + (1,))


class ArithmeticFamily(ExpressionFamily):
    """Multi-step integer arithmetic such as ``(17 + 25) * 3 - 8``; difficulty = operations - 1.

    Difficulty 0 is two additions or subtractions of single digits, such as ``7 - (2 + 4)``.
    """

    name = "arith"
    kinds = ("slip", "carry", "sign", "precedence")

    def sample(self, rng: random.Random, difficulty: int) -> Expr:
        top = {0: 9, 1: 20, 2: 50, 3: 99}[difficulty]
        ops = "+-" if difficulty == 0 else "+-*"
        while True:
            expr: Expr = Num(rng.randint(1 if difficulty == 0 else 2, top))
            for _ in range(max(difficulty, 1) + 1):
                op = rng.choice(ops)
                leaf = Num(rng.randint(2, 12) if op == "*" else rng.randint(1 if difficulty == 0 else 2, top))
                shape = rng.random()
                if shape < 0.4:
                    expr = Op(op, expr, leaf)
                elif shape < 0.7:
                    expr = Op(op, leaf, expr)
                else:
                    leaves = [p for p, node in _nodes(expr) if isinstance(node, Num)]
                    path = rng.choice(leaves)
                    expr = replace(expr, path, Op(op, get(expr, path), leaf))
            if abs(value(expr)) <= 2000 and all(abs(value(n)) <= 2000 for _, n in _nodes(expr)):
                return expr

    def reduce(self, node: Op) -> Expr:
        return Num(value(node).p)

    def wrong_reduce(self, node: Op, kind: str, rng: random.Random) -> Expr | None:
        wrong = wrong_int(node.op, node.left.num, node.right.num, kind, rng)
        return None if wrong is None else Num(wrong)


class FractionFamily(ExpressionFamily):
    """Fraction arithmetic such as ``3/4 + 5/6``: common denominator, combine, reduce.

    Difficulty 0 pairs denominators that divide one another, as in ``1/4 + 5/8``.
    """

    name = "fractions"
    kinds = ("slip", "sign", "denominator")

    def question(self, state: Expr) -> str:
        return f"Compute {render(state)}. Give the answer as a fraction in lowest terms."

    def sample(self, rng: random.Random, difficulty: int) -> Expr:
        top = {0: 16, 1: 10, 2: 12, 3: 12}[difficulty]
        ops = "+-" if difficulty <= 1 else "+-*"

        def leaf() -> Num:
            den = rng.randint(2, top)
            return Num(rng.randint(1, den - 1), den).reduced()

        while True:
            expr: Expr = Op(rng.choice(ops), leaf(), leaf())
            dens = sorted((expr.left.den, expr.right.den))
            if difficulty == 0 and dens[1] % dens[0]:
                continue
            if difficulty == 3:
                expr = Op(rng.choice("+-"), leaf(), expr) if rng.random() < 0.5 else Op(rng.choice(ops), expr, leaf())
            if value(expr).q > 1 and all(n.den != 1 for _, n in _nodes(expr) if isinstance(n, Num)):
                return expr

    def reduce(self, node: Op) -> Expr:
        a, b = node.left, node.right
        if node.op == "*":
            return Num(a.num * b.num, a.den * b.den).reduced()
        if a.den != b.den:
            common = lcm(a.den, b.den)
            return Op(node.op, Num(a.num * common // a.den, common), Num(b.num * common // b.den, common))
        return Num(a.num + b.num if node.op == "+" else a.num - b.num, a.den).reduced()

    def wrong_reduce(self, node: Op, kind: str, rng: random.Random) -> Expr | None:
        a, b = node.left, node.right
        if kind == "denominator":
            if node.op == "+" and a.den != b.den:
                return Num(a.num + b.num, a.den + b.den)
            return None
        right = self.reduce(node)
        if isinstance(right, Op):              # a common-denominator step: slip on one numerator
            if kind != "slip":
                return None
            left, other = right.left, right.right
            return Op(node.op, Num(left.num + rng.choice([-1, 1]), left.den), other)
        if node.op == "*":
            return Num(a.num * b.num + rng.choice([-2, -1, 1, 2]), a.den * b.den).reduced() if kind == "slip" else None
        wrong = wrong_int(node.op, a.num, b.num, kind, rng)
        return None if wrong is None else Num(wrong, a.den).reduced()

    def _middle(self, node: Expr, result: Expr) -> str:
        if not (isinstance(node, Op) and isinstance(result, Num)):
            return ""
        a, b = node.left, node.right
        if node.op == "*":
            raw = Num(a.num * b.num, a.den * b.den)
        elif a.den == b.den:
            raw = Num(a.num + b.num if node.op == "+" else a.num - b.num, a.den)
        else:
            return ""
        return f" = {render_num(raw, True)}" if raw != result and value(raw) == value(result) else ""


class LinearFamily:
    """Linear equations in one variable: ``3x + 7 = 22`` (difficulty 0, 1), ``5x - 4 = 2x + 11`` (2, 3).

    Difficulty 0 has a coefficient 2..5 and a single-digit constant and root.
    """

    name = "linear"
    kinds = ("slip", "sign", "carry")

    def sample(self, rng: random.Random, difficulty: int) -> Equation:
        top = {0: 5, 1: 9, 2: 9, 3: 15}[difficulty]
        R = sympy.Rational
        while True:
            a = rng.choice([k for k in range(-top, top + 1) if k not in (0, 1) and (difficulty or k > 0)])
            c = 0 if difficulty <= 1 else rng.choice([k for k in range(-top, top + 1) if k not in (0, a)])
            x = R(rng.choice([k for k in range(-9, 10) if k]) if difficulty == 0 else rng.randint(-10, 10))
            if difficulty == 3 and rng.random() < 0.5:
                x = R(rng.randint(-20, 20), rng.choice([2, 3, 4, 5]))
            b = R(rng.randint(-9, 9) if difficulty == 0 else rng.randint(-30, 30))
            d = (a - c) * x + b
            if b != 0 and d.q == 1 and abs(d) <= 200:
                return Equation(R(a), b, R(c), d)

    def question(self, state: Equation) -> str:
        return f"Solve for x: {render_equation(state)}."

    def gold(self, state: Equation) -> sympy.Rational:
        return root(state)

    def is_final(self, state: Equation) -> bool:
        return state.a == 1 and state.b == 0 and state.c == 0

    def final_value(self, state: Equation) -> sympy.Rational | None:
        return state.d if self.is_final(state) else None

    def equivalent(self, before: Equation, after: Equation) -> bool:
        solution = root(before)
        return solution is not None and root(after) == solution

    def step(self, state: Equation) -> SolutionStep | None:
        return self._step(state, None, None)

    def mistake(self, state: Equation, kind: str, rng: random.Random) -> SolutionStep | None:
        if self.is_final(state):
            return None
        step = self._step(state, kind, rng)
        return step if step is not None and not self.equivalent(state, step.after) else None

    def _step(self, eq: Equation, kind: str | None, rng: random.Random | None) -> SolutionStep | None:
        def compute(op: str, x: sympy.Rational, y: sympy.Rational) -> sympy.Rational | None:
            right = {"+": x + y, "-": x - y, "*": x * y}[op]
            if kind is None:
                return right
            if kind == "sign" and op in "+-":
                return x - y if op == "+" else x + y
            if x.q == 1 and y.q == 1:
                wrong = wrong_int(op, int(x), int(y), kind, rng) if op != "*" or kind == "slip" else None
                return None if wrong is None or wrong == right else sympy.Rational(wrong)
            return right + 1 if kind == "slip" else None

        def num(x: sympy.Rational) -> Num:
            return Num(int(x.p), int(x.q))

        if eq.c != 0:
            op, verb = ("-", "Subtract") if eq.c > 0 else ("+", "Add")
            coef = compute(op, eq.a, abs(eq.c))
            if coef is None or coef == 0:
                return None
            after = Equation(coef, eq.b, sympy.Integer(0), eq.d)
            term = "x" if abs(eq.c) == 1 else f"{format_number(abs(eq.c))}x"
            text = f"{verb} {term} {'from' if op == '-' else 'to'} both sides: {render_equation(after)}."
            return SolutionStep(eq, after, Op(op, num(eq.a), num(abs(eq.c))), num(coef), text, mistake=kind)
        if eq.b != 0:
            op, verb = ("-", "Subtract") if eq.b > 0 else ("+", "Add")
            rhs = compute(op, eq.d, abs(eq.b))
            if rhs is None:
                return None
            after = Equation(eq.a, sympy.Integer(0), sympy.Integer(0), rhs)
            text = f"{verb} {format_number(abs(eq.b))} {'from' if op == '-' else 'to'} both sides: " \
                   f"{render_equation(after)}."
            return SolutionStep(eq, after, Op(op, num(eq.d), num(abs(eq.b))), num(rhs), text, mistake=kind)
        if eq.a != 1:
            if kind == "sign":
                x = -eq.d / eq.a
            elif kind == "slip":
                x = eq.d / eq.a + rng.choice([-2, -1, 1, 2])
            elif kind is None:
                x = eq.d / eq.a
            else:
                return None
            after = Equation(sympy.Integer(1), sympy.Integer(0), sympy.Integer(0), x)
            text = f"Divide both sides by {format_number(eq.a)}: {render_equation(after)}."
            claim_str = f"{render_num(num(eq.d))} / {render_num(num(eq.a))} = {render_num(num(x), True)}"
            return SolutionStep(eq, after, Op("*", num(eq.d), Num(1, int(eq.a))), num(x), text, mistake=kind,
                        claim_str=claim_str)
        return None

    def check_text(self, steps: list[SolutionStep]) -> str:
        eq = steps[0].before
        x = steps[-1].after.d
        x_text = format_number(x) if x.q == 1 and x >= 0 else f"({format_number(x)})"

        def side(coef: sympy.Rational, const: sympy.Rational) -> str:
            if coef == 0:
                return format_number(const)
            term = f"{format_number(coef)} * {x_text}"
            return term if const == 0 else f"{term} {'-' if const < 0 else '+'} {format_number(abs(const))}"

        checks = [f"{side(eq.a, eq.b)} = {format_number(eq.a * x + eq.b)}"]
        if eq.c != 0:
            checks.append(f"{side(eq.c, eq.d)} = {format_number(eq.c * x + eq.d)}")
        return f"Check: {' and '.join(checks)}. Correct."


# ---------------------------------------------------------------------------------------------
# Word problems (GSM8K-style stories over an expression tree)
# ---------------------------------------------------------------------------------------------

# Leaf kinds of a story shape and their ranges per difficulty: ``n`` a count of groups (packs,
# rows, hours, days), ``per`` an amount per group or a unit price, ``add`` a quantity added or
# taken away, ``big`` a starting amount things are taken from, ``div`` an exact divisor.
WORD_RANGES = {
    0: {"n": (2, 9), "per": (2, 10), "add": (2, 20), "big": (10, 60), "div": (2, 5)},
    1: {"n": (2, 12), "per": (2, 20), "add": (2, 50), "big": (20, 200), "div": (2, 8)},
    2: {"n": (2, 15), "per": (2, 25), "add": (5, 100), "big": (50, 500), "div": (2, 10)},
    3: {"n": (2, 25), "per": (3, 40), "add": (10, 300), "big": (100, 2000), "div": (2, 12)},
}
WORD_CAP = {0: 200, 1: 1000, 2: 5000, 3: 20000}          # bound on every intermediate and the answer
WORD_OPERATIONS = {0: (2,), 1: (2, 3), 2: (3, 4), 3: (3, 4)}

# Story shapes: a tree pattern (``(op, left, right)``, leaves are kinds; ``/`` is an exact division
# by a ``div`` leaf, stored as ``* 1/k``) and its templates. A template names the leaves ``{a}``,
# ``{b}``, ... left to right as the tree holds them, and may use ``{name}``, ``{he}``, ``{him}``,
# ``{his}`` (``{He}``, ``{His}`` at a sentence start). Templates hold no digits of their own.
WORD_SHAPES: list[tuple[tuple, tuple[str, ...]]] = [
    # --- two operations ---------------------------------------------------------------------
    (("+", ("*", "n", "per"), "add"), (
        "{name} buys {a} packs of stickers with {b} stickers in each pack. {He} already has {c} stickers. "
        "How many stickers does {he} have now?",
        "A farmer plants {a} rows of tomato plants with {b} plants in each row and {c} more plants along the "
        "fence. How many tomato plants does the farmer plant in all?",
        "{name} buys {a} notebooks for ${b} each and a backpack for ${c}. How much does {he} spend in total?",
    )),
    (("-", ("*", "n", "per"), "add"), (
        "{name} bakes {a} trays of cookies with {b} cookies on each tray. {His} family eats {c} of the "
        "cookies. How many cookies are left?",
        "A library has {a} shelves with {b} books on each shelf. On Monday, {c} of the books are checked out. "
        "How many books are still on the shelves?",
        "{name} works {a} hours this week and earns ${b} an hour. {He} spends ${c} on a new game. How much of "
        "{his} pay does {he} have left?",
    )),
    (("+", "add", ("*", "n", "per")), (
        "{name} has {a} marbles. {He} buys {b} bags of marbles with {c} marbles in each bag. How many marbles "
        "does {he} have now?",
        "A bus has {a} passengers. At the next stop, {b} groups of {c} students get on. How many passengers "
        "are on the bus now?",
        "{name} has ${a} in {his} piggy bank. {He} saves ${c} a week for {b} weeks. How much money is in the "
        "piggy bank now?",
    )),
    (("-", "big", ("*", "n", "per")), (
        "{name} has ${a}. {He} buys {b} tickets that cost ${c} each. How much money does {he} have left?",
        "A bakery makes {a} muffins in the morning and sells {b} boxes of {c} muffins by noon. How many "
        "muffins are left?",
        "A farm has {a} eggs. The farmer fills {b} cartons with {c} eggs each. How many eggs are not in "
        "cartons?",
    )),
    (("*", ("+", "add", "add"), "per"), (
        "{name} buys {a} red balloons and {b} blue balloons for a party. Each balloon costs ${c}. How much "
        "does {he} pay for the balloons?",
        "A class has {a} boys and {b} girls. The teacher gives each student {c} stickers. How many stickers "
        "does the teacher give out?",
        "{name} reads {a} pages in the morning and {b} pages in the evening every day. How many pages does "
        "{he} read in {c} days?",
    )),
    (("/", ("*", "n", "per"), "div"), (
        "{name} buys {a} packs of cookies with {b} cookies in each pack. {He} shares them equally among {c} "
        "friends. How many cookies does each friend get?",
        "A teacher has {a} boxes of crayons with {b} crayons in each box. The crayons are put into {c} equal "
        "piles. How many crayons are in each pile?",
        "A group of {c} friends rents {a} bikes for ${b} each and splits the cost equally. How much does each "
        "friend pay?",
    )),
    (("-", ("+", "add", "add"), "add"), (
        "{name} has {a} stamps. {His} grandmother gives {him} {b} more stamps, and then {he} gives {c} stamps "
        "to a friend. How many stamps does {he} have now?",
        "There are {a} people on a train. At the first stop, {b} people get on and {c} people get off. How "
        "many people are on the train now?",
        "{name} had ${a}. {He} earned ${b} washing cars and then spent ${c} on a book. How much money does "
        "{he} have now?",
    )),
    (("-", ("-", "big", "add"), "add"), (
        "{name} has ${a}. {He} spends ${b} on lunch and ${c} on a movie ticket. How much money does {he} have "
        "left?",
        "A farmer picks {a} apples. The farmer sells {b} apples at the market and uses {c} apples to make "
        "pies. How many apples are left?",
        "A school has {a} chairs. There are {b} chairs in the gym and {c} chairs in the library. How many "
        "chairs are in the other rooms?",
    )),
    (("*", ("*", "n", "per"), "per"), (
        "A bookstore has {a} shelves. Each shelf has {b} rows, and each row holds {c} books. How many books "
        "can the bookstore display?",
        "{name} buys {a} boxes of juice. Each box has {b} packs, and each pack has {c} bottles. How many "
        "bottles does {he} buy?",
        "A garden has {a} beds. Each bed has {b} rows with {c} plants in each row. How many plants are in "
        "the garden?",
    )),
    (("/", ("-", "big", "add"), "div"), (
        "{name} picks {a} strawberries and eats {b} of them. {He} puts the rest into {c} bowls with the same "
        "number in each bowl. How many strawberries are in each bowl?",
        "A class raises ${a} for a trip and spends ${b} on snacks. The rest is split equally among {c} "
        "groups. How much money does each group get?",
    )),
    (("/", ("+", "add", "add"), "div"), (
        "{name} collects {a} shells on Saturday and {b} shells on Sunday. {He} shares them equally among {c} "
        "friends. How many shells does each friend get?",
        "A team scores {a} points in the first half and {b} points in the second half. Each of its {c} "
        "players scores the same number of points. How many points does each player score?",
    )),
    (("+", ("+", "add", "add"), "add"), (
        "{name} walks {a} minutes on Monday, {b} minutes on Tuesday and {c} minutes on Wednesday. How many "
        "minutes does {he} walk in all?",
        "A farm has {a} cows, {b} sheep and {c} goats. How many animals are on the farm?",
        "{name} spends ${a} on a shirt, ${b} on shoes and ${c} on a hat. How much does {he} spend "
        "altogether?",
    )),
    # --- three operations -------------------------------------------------------------------
    (("+", ("*", "n", "per"), ("*", "n", "per")), (
        "{name} buys {a} notebooks for ${b} each and {c} pens for ${d} each. How much does {he} spend in all?",
        "A farmer has {a} rows of corn with {b} plants in each row and {c} rows of beans with {d} plants in "
        "each row. How many plants does the farmer have?",
        "A theater sells {a} adult tickets for ${b} each and {c} child tickets for ${d} each. How much money "
        "does the theater make?",
    )),
    (("-", ("*", "n", "per"), ("*", "n", "per")), (
        "{name} works {a} hours and earns ${b} an hour. {He} buys {c} books that cost ${d} each. How much of "
        "{his} pay does {he} have left?",
        "A bakery bakes {a} trays of rolls with {b} rolls on each tray. It sells {c} bags of rolls with {d} "
        "rolls in each bag. How many rolls are left?",
    )),
    (("-", "big", ("+", ("*", "n", "per"), "add")), (
        "{name} has ${a}. {He} buys {b} notebooks for ${c} each and a backpack for ${d}. How much money does "
        "{he} have left?",
        "A store has {a} apples. It sells {b} bags of apples with {c} apples in each bag and {d} loose "
        "apples. How many apples are left?",
        "A school library has {a} books. It lends {b} boxes of {c} books to another school and gives away "
        "{d} old books. How many books does the library have now?",
    )),
    (("/", ("-", ("*", "n", "per"), "add"), "div"), (
        "{name} bakes {a} batches of muffins with {b} muffins in each batch. {He} eats {c} muffins and packs "
        "the rest into boxes of {d}. How many boxes does {he} fill?",
        "A class collects {a} bags of cans with {b} cans in each bag. After {c} cans are found broken, the "
        "rest are split equally among {d} teams. How many cans does each team get?",
    )),
    (("*", ("+", ("*", "n", "per"), "add"), "n"), (
        "{name} works {a} hours a day at ${b} an hour and also gets ${c} in tips each day. How much does {he} "
        "earn in {d} days?",
        "Each crate in a shipment holds {a} bags of {b} oranges plus {c} loose oranges. How many oranges are "
        "in {d} crates?",
    )),
    (("-", ("*", ("+", "add", "add"), "per"), "add"), (
        "A class has {a} girls and {b} boys. The teacher buys {c} pencils for each student, and {d} of the "
        "pencils break. How many pencils are not broken?",
        "{name} sells {a} cupcakes on Friday and {b} cupcakes on Saturday for ${c} each. {He} spent ${d} on "
        "ingredients. How much money does {he} make after paying for the ingredients?",
    )),
    (("-", ("+", ("*", "n", "per"), "add"), "add"), (
        "{name} buys {a} packs of cards with {b} cards in each pack. {His} brother gives {him} {c} more cards, "
        "and then {he} loses {d} cards. How many cards does {he} have now?",
        "A zoo has {a} cages with {b} birds in each cage and {c} birds in an open area. Then {d} birds are "
        "moved to another zoo. How many birds does the zoo have now?",
    )),
    (("+", ("/", ("*", "n", "per"), "div"), "add"), (
        "{name} buys {a} packs of {b} stickers and shares them equally among {c} friends. One of the friends "
        "already had {d} stickers. How many stickers does that friend have now?",
        "A pizza place cuts {a} pizzas into {b} slices each and shares the slices equally among {c} tables. "
        "One table also orders {d} extra slices. How many slices does that table get?",
    )),
    (("-", ("-", "big", ("*", "n", "per")), "add"), (
        "{name} has ${a}. {He} buys {b} comic books for ${c} each and then spends ${d} on lunch. How much "
        "money does {he} have left?",
        "A farmer has {a} pounds of potatoes. The farmer fills {b} sacks with {c} pounds each and gives {d} "
        "pounds to a neighbor. How many pounds of potatoes are left?",
    )),
    (("/", ("-", "big", ("*", "n", "per")), "div"), (
        "{name} has ${a}. {He} buys {b} toys for ${c} each and shares the money left equally among {d} "
        "cousins. How much money does each cousin get?",
        "A garden has {a} tulips. The gardener cuts {b} bunches of {c} tulips and plants the rest in {d} "
        "equal rows. How many tulips are in each row?",
    )),
    # --- four operations --------------------------------------------------------------------
    (("-", ("+", ("*", "n", "per"), ("*", "n", "per")), "add"), (
        "{name} buys {a} shirts for ${b} each and {c} pairs of socks for ${d} each. {He} uses a coupon for "
        "${e} off. How much does {he} pay?",
        "A farmer picks {a} baskets of apples with {b} apples each and {c} baskets of pears with {d} pears "
        "each. Of these, {e} pieces of fruit are bruised and thrown away. How many pieces of fruit are left?",
    )),
    (("-", "big", ("+", ("*", "n", "per"), ("*", "n", "per"))), (
        "{name} has ${a}. {He} buys {b} tickets for ${c} each and {d} drinks for ${e} each. How much money "
        "does {he} have left?",
        "A warehouse has {a} cans of paint. It ships {b} boxes of {c} cans to one store and {d} boxes of {e} "
        "cans to another store. How many cans are still in the warehouse?",
    )),
    (("/", ("+", ("*", "n", "per"), ("*", "n", "per")), "div"), (
        "A group of {e} friends orders {a} pizzas for ${b} each and {c} drinks for ${d} each. They split the "
        "bill equally. How much does each friend pay?",
        "A teacher has {a} packs of {b} markers and {c} packs of {d} crayons. The teacher divides all of them "
        "equally among {e} tables. How many markers and crayons does each table get?",
    )),
    (("-", ("*", ("+", ("*", "n", "per"), "add"), "n"), "add"), (
        "{name} works {a} hours a day at ${b} an hour and gets ${c} in tips each day. After {d} days, {he} "
        "spends ${e} on a bike. How much money does {he} have left?",
        "Each crate holds {a} bags of {b} apples plus {c} loose apples. A store gets {d} crates and sells "
        "{e} apples. How many apples are left?",
    )),
    (("+", ("+", ("*", "n", "per"), ("*", "n", "per")), "add"), (
        "A farm has {a} pens with {b} sheep in each pen and {c} pens with {d} goats in each pen. The farm "
        "also has {e} chickens. How many animals are on the farm?",
        "{name} buys {a} sandwiches for ${b} each, {c} juices for ${d} each and a cake for ${e}. How much "
        "does {he} spend in total?",
    )),
    (("*", ("/", ("-", ("*", "n", "per"), "add"), "div"), "per"), (
        "{name} bakes {a} trays of cookies with {b} cookies on each tray. {He} eats {c} cookies and packs the "
        "rest into bags of {d}. {He} sells each bag for ${e}. How much money does {he} make?",
        "A farm collects {a} baskets of eggs with {b} eggs in each basket. After throwing away {c} cracked "
        "eggs, the farmer packs the rest into cartons of {d} and sells each carton for ${e}. How much money "
        "does the farmer make?",
    )),
]

WORD_NAMES = (("Mia", "she"), ("Liam", "he"), ("Ava", "she"), ("Noah", "he"), ("Emma", "she"), ("Lucas", "he"),
              ("Sofia", "she"), ("Ethan", "he"), ("Zoe", "she"), ("Omar", "he"), ("Priya", "she"), ("Diego", "he"),
              ("Hana", "she"), ("Kofi", "he"), ("Lena", "she"), ("Mateo", "he"), ("Aisha", "she"), ("Ben", "he"),
              ("Chloe", "she"), ("Ravi", "he"), ("Nora", "she"), ("Sam", "he"), ("Grace", "she"), ("Jamal", "he"))
_PRONOUNS = {"he": {"he": "he", "him": "him", "his": "his"}, "she": {"he": "she", "him": "her", "his": "her"}}


def _operations(pattern) -> int:
    return 0 if isinstance(pattern, str) else 1 + _operations(pattern[1]) + _operations(pattern[2])


def _is_divisor(expr: Expr) -> bool:
    """A ``1/k`` leaf on the right of ``*``: how an exact division by ``k`` is stored."""
    return isinstance(expr, Num) and expr.num == 1 and expr.den > 1


def _is_division(expr: Expr) -> bool:
    return isinstance(expr, Op) and expr.op == "*" and _is_divisor(expr.right)


def _fraction(expr: Expr) -> Fraction:
    """Exact value with Python fractions (sampling checks; ``value`` stays the sympy gold)."""
    if isinstance(expr, Num):
        return Fraction(expr.num, expr.den)
    left, right = _fraction(expr.left), _fraction(expr.right)
    return left + right if expr.op == "+" else left - right if expr.op == "-" else left * right


def _match(pattern, expr: Expr) -> list[int] | None:
    """The leaf numbers of ``expr`` left to right (a divisor as ``k``) when it has ``pattern``'s shape."""
    if isinstance(pattern, str):
        if not isinstance(expr, Num):
            return None
        if pattern == "div":
            return [expr.den] if _is_divisor(expr) else None
        return [expr.num] if expr.den == 1 else None
    op, left, right = pattern
    if not isinstance(expr, Op) or expr.op != ("*" if op == "/" else op) or (op == "/") != _is_division(expr):
        return None
    found = _match(left, expr.left), _match(right, expr.right)
    return None if None in found else found[0] + found[1]


def _sound(expr: Expr, divisor: bool = False) -> bool:
    """Every number a non-negative integer (divisor leaves aside): no half cookies, no -3 dollars."""
    if isinstance(expr, Num):
        return _is_divisor(expr) if divisor else expr.den == 1 and expr.num >= 0
    v = _fraction(expr)
    return v.denominator == 1 and v >= 0 and _sound(expr.left) and _sound(expr.right, _is_division(expr))


class WordFamily(ArithmeticFamily):
    """GSM8K-style word problems: a short story whose solution is the arithmetic of an expression tree.

    The state is an ``Expr`` of integer ``+ - *`` and exact division (``x / k`` stored as
    ``x * 1/k``) with one of the shapes in ``WORD_SHAPES``; every intermediate is a non-negative
    integer. ``question`` picks the shape's template, name and pronouns from a hash of the state,
    so it is a pure function of the state. Steps are the plain arithmetic (``4 * 12 = 48.``);
    ``sign`` mistakes add where the story subtracts (and the reverse), ``precedence`` combines
    the wrong quantities first (``8 + 3`` before ``3 * 4``). Difficulty 0 has two operations on
    small numbers, 1 two or three, 2 and 3 three or four with larger numbers.
    """

    name = "word"
    kinds = ("slip", "carry", "sign", "precedence")

    def sample(self, rng: random.Random, difficulty: int) -> Expr:
        ranges, cap = WORD_RANGES[difficulty], WORD_CAP[difficulty]
        while True:
            count = rng.choice(WORD_OPERATIONS[difficulty])
            pattern = rng.choice([p for p, _ in WORD_SHAPES if _operations(p) == count])
            for _ in range(200):
                expr = self._build(pattern, lambda kind: rng.randint(*ranges[kind]))
                values = [_fraction(node) for _, node in _nodes(expr) if isinstance(node, Op)]
                if all(v.denominator == 1 and 1 <= v <= cap for v in values):
                    return expr

    def _build(self, pattern, draw) -> Expr:
        if isinstance(pattern, str):
            return Num(1, draw(pattern)) if pattern == "div" else Num(draw(pattern))
        op, left, right = pattern
        return Op("*" if op == "/" else op, self._build(left, draw), self._build(right, draw))

    def question(self, state: Expr) -> str:
        for pattern, templates in WORD_SHAPES:
            leaves = _match(pattern, state)
            if leaves is not None:
                break
        else:
            raise ValueError(f"no word-problem story has the shape of {render(state)}")
        digest = hashlib.sha256(json.dumps(to_json(state)).encode()).digest()
        template = templates[int.from_bytes(digest[:4], "big") % len(templates)]
        name, pronoun = WORD_NAMES[int.from_bytes(digest[4:8], "big") % len(WORD_NAMES)]
        words = {**_PRONOUNS[pronoun], "name": name}
        words.update({key.capitalize(): words[key].capitalize() for key in ("he", "his")})
        return template.format(**words, **dict(zip("abcde", map(str, leaves))))

    def reduce(self, node: Op) -> Expr:
        exact = value(node)                  # exact, so a wrong dividend shows as a fraction (and is refused)
        return Num(int(exact.p), int(exact.q))

    def wrong_reduce(self, node: Op, kind: str, rng: random.Random) -> Expr | None:
        if _is_division(node):
            return Num(value(node).p + rng.choice([-2, -1, 1, 2])) if kind == "slip" else None
        return super().wrong_reduce(node, kind, rng) if kind in ("slip", "carry") else None

    def mistake(self, state: Expr, kind: str, rng: random.Random) -> SolutionStep | None:
        step = self._wrong_operation(state) if kind == "sign" else super().mistake(state, kind, rng)
        if step is None or not _sound(step.after) or value(step.after) == value(state):
            return None
        return step

    def _wrong_operation(self, state: Expr) -> SolutionStep | None:
        """Add what the story takes away (or take away what it adds): ``48 + 9 = 57`` for ``48 - 9``."""
        if isinstance(state, Num):
            return None
        path, node = first_reducible(state)
        if node.op not in "+-" or (node.op == "+" and node.left.num <= node.right.num):
            return None
        claim = Op("+" if node.op == "-" else "-", node.left, node.right)
        result = Num(int(value(claim)))
        after = replace(state, path, result)
        return SolutionStep(state, after, claim, result, self._text(claim, result, after, not path), path, "sign")

    def _make(self, state: Expr, path: tuple[int, ...], node: Expr, result: Expr,
              mistake: str | None = None) -> SolutionStep:
        step = super()._make(state, path, node, result, mistake)
        if _is_division(node):
            step = SolutionStep(step.before, step.after, step.claim, step.result, step.text, step.path, step.mistake,
                        f"{self._claim(node)} = {render(result)}")
        return step

    def _claim(self, node: Op) -> str:
        return f"{render(node.left)} / {node.right.den}" if _is_division(node) else render(node)

    def _text(self, node: Expr, result: Expr, after: Expr, whole: bool) -> str:
        """Only the computation: the story, not an expression, says what is left to do."""
        return f"{self._claim(node)} = {render(result)}."

    def check_text(self, steps: list[SolutionStep]) -> str:
        """The last computation undone: ``39 + 9 = 48``, ``12 * 4 = 48``, ``48 / 12 = 4``."""
        last = steps[-1].claim
        x, r = render(last.left), format_number(value(steps[-1].result))
        if _is_division(last):
            return f"Check: {r} * {last.right.den} = {x}. Correct."
        inverse = {"+": "-", "-": "+", "*": "/"}[last.op]
        return f"Check: {r} {inverse} {render(last.right)} = {x}. Correct."


FAMILIES = {family.name: family for family in (ArithmeticFamily(), FractionFamily(), LinearFamily(), WordFamily())}


def solve_steps(family, state) -> list[SolutionStep]:
    """The correct step sequence from ``state`` to the final answer."""
    steps = []
    while (step := family.step(state)) is not None:
        steps.append(step)
        state = step.after
    return steps


def reference_solution(family, state) -> str:
    """Plain-text worked solution ending in ``\\boxed{gold}``."""
    steps = solve_steps(family, state)
    answer = format_number(family.gold(state))
    return " ".join(s.text for s in steps) + f" The answer is \\boxed{{{answer}}}."


def make_problem(family_name: str, state, difficulty: int) -> Problem:
    """A :class:`Problem` for ``state``; its id is a hash of the canonical question (stable across seeds)."""
    family = FAMILIES[family_name]
    question = family.question(state)
    digest = hashlib.sha256(f"{family_name}|{question}".encode()).hexdigest()[:12]
    return Problem(
        id=f"{family_name}-d{difficulty}-{digest}", question=question, gold=format_number(family.gold(state)),
        solution=reference_solution(family, state), source=f"procedural/{family_name}",
        meta={"family": family_name, "difficulty": difficulty, "spec": to_json(state)},
    )


def problem_state(problem: Problem):
    """The structured state of a procedural problem (from its ``meta``), or None for other sources."""
    spec = problem.meta.get("spec") if problem.meta else None
    family = FAMILIES.get(problem.meta.get("family")) if problem.meta else None
    return (family, from_json(spec)) if family is not None and spec is not None else (None, None)


def generate_problems(family: str, n: int, seed: int = 0, split: str = "train", difficulty: int = 1,
                      patience: int = 2000, strict: bool = True) -> list[Problem]:
    """``n`` distinct problems of ``family`` belonging to ``split``, reproducible from ``seed``.

    When ``patience`` draws in a row bring no new problem (the family is exhausted), raises
    ValueError, or with ``strict=False`` returns the fewer problems found.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown problem family {family!r}; choose one of {sorted(FAMILIES)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    rng = random.Random(f"{seed}|{family}|{difficulty}|{split}")
    problems: dict[str, Problem] = {}
    questions: set[str] = set()
    fruitless = 0
    while len(problems) < n and fruitless < patience:
        state = FAMILIES[family].sample(rng, difficulty)
        question = FAMILIES[family].question(state)
        if question in questions or split_of(f"{family}|{question}") != split:
            fruitless += 1
            continue
        fruitless = 0
        questions.add(question)
        problem = make_problem(family, state, difficulty)
        problems[problem.id] = problem
    if len(problems) < n and strict:
        raise ValueError(f"family {family!r} at difficulty {difficulty} yielded only {len(problems)} distinct "
                         f"{split} problems of the {n} asked; ask for fewer or raise the difficulty")
    return list(problems.values())


def generate_mix(families: dict[str, float], difficulties: list[int], n: int, seed: int = 0,
                 split: str = "train") -> list[Problem]:
    """``n`` problems spread over ``families`` (by weight) and ``difficulties`` (evenly), in a fixed order."""
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown problem families {unknown}; choose from {sorted(FAMILIES)}")
    cells = [(f, d, w / len(difficulties)) for f, w in families.items() if w > 0 for d in difficulties]
    total = sum(w for _, _, w in cells)
    counts = [int(n * w / total) for _, _, w in cells]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    problems = []
    for (family, difficulty, _), count in zip(cells, counts):
        problems.extend(generate_problems(family, count, seed, split, difficulty))
    return problems


PROCEDURAL_PREFIX = "procedural:"


def parse_procedural_spec(spec: str) -> tuple[dict[str, float], list[int] | None]:
    """``procedural:FAMILY[,FAMILY...][:LEVEL[,LEVEL...]]`` -> (families with equal weights, levels or None).

    None means the spec names no difficulty (the caller picks its default). Raises ValueError
    naming what is wrong and the valid choices.
    """
    body = spec[len(PROCEDURAL_PREFIX):] if spec.startswith(PROCEDURAL_PREFIX) else spec
    names, _, levels = body.partition(":")
    families = {name.strip(): 1.0 for name in names.split(",") if name.strip()}
    usage = (f"use {PROCEDURAL_PREFIX}FAMILY[,FAMILY...][:DIFFICULTY[,DIFFICULTY...]] with FAMILY in "
             f"{sorted(FAMILIES)} and DIFFICULTY in {list(DIFFICULTIES)}")
    unknown = sorted(set(families) - set(FAMILIES))
    if not families or unknown:
        raise ValueError(f"unknown procedural set {spec!r} (families {unknown or 'missing'}): {usage}")
    if not levels:
        return families, None
    parts = [level.strip() for level in levels.split(",")]
    if not all(part.isdigit() and int(part) in DIFFICULTIES for part in parts):
        raise ValueError(f"bad difficulty in procedural set {spec!r}: {usage}")
    return families, [int(part) for part in parts]


def export_jsonl(problems: list[Problem], path: str | Path) -> None:
    """Write problems as JSONL readable by ``satori.problems.load_problems`` (id, question, answer, solution)."""
    atomic_write_jsonl(path, ({"id": p.id, "question": p.question, "answer": p.gold, "solution": p.solution,
                               **p.meta} for p in problems))
