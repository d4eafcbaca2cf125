"""Procedural families: reproducible, exact gold, disjoint splits, loadable exports."""

from __future__ import annotations

from fractions import Fraction

import pytest

from data_synthesis.expr import Equation, Num, Op
from data_synthesis.families import (FAMILIES, export_jsonl, generate_mix, generate_problems, parse_procedural_spec,
                                     problem_state, solve_steps, split_of)
from satori.latex import last_boxed
from satori.problems import ColumnMap, load_problems


def fraction_value(node) -> Fraction:
    """Independent evaluation with Python fractions (not the sympy path under test)."""
    if isinstance(node, Num):
        return Fraction(node.num, node.den)
    a, b = fraction_value(node.left), fraction_value(node.right)
    return {"+": a + b, "-": a - b, "*": a * b}[node.op]


def as_fraction(text: str) -> Fraction:
    return Fraction(text)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("difficulty", [0, 1, 2, 3])
def test_reproducible_and_gold_exact(family, difficulty):
    first = generate_problems(family, 40, seed=3, split="train", difficulty=difficulty)
    again = generate_problems(family, 40, seed=3, split="train", difficulty=difficulty)
    other = generate_problems(family, 40, seed=4, split="train", difficulty=difficulty)
    assert [p.to_dict() for p in first] == [p.to_dict() for p in again]
    assert {p.id for p in first} != {p.id for p in other}
    assert len({p.id for p in first}) == 40
    for problem in first:
        _, state = problem_state(problem)
        gold = as_fraction(problem.gold)
        if isinstance(state, Equation):
            x = Fraction(str(gold))
            a, b, c, d = (Fraction(str(v)) for v in (state.a, state.b, state.c, state.d))
            assert a * x + b == c * x + d
        else:
            assert fraction_value(state) == gold
            assert gold.denominator == 1 or family == "fractions"
        assert last_boxed(problem.solution) == problem.gold
        assert problem.meta["difficulty"] == difficulty


def test_examples_read_naturally():
    arith = generate_problems("arith", 5, seed=0, difficulty=2)
    assert all(p.question.startswith("Compute ") and p.question.endswith(".") for p in arith)
    linear = generate_problems("linear", 5, seed=0, difficulty=1)
    assert all(p.question.startswith("Solve for x: ") and "x =" not in p.question for p in linear)
    state = Op("*", Op("+", Num(17), Num(25)), Num(3))
    steps = solve_steps(FAMILIES["arith"], Op("-", state, Num(8)))
    assert [s.text for s in steps] == ["17 + 25 = 42, giving 42 * 3 - 8.", "42 * 3 = 126, giving 126 - 8.",
                                       "126 - 8 = 118."]
    steps = solve_steps(FAMILIES["fractions"], Op("+", Num(3, 4), Num(5, 6)))
    assert [s.text for s in steps] == ["3/4 + 5/6 = 9/12 + 10/12.", "9/12 + 10/12 = 19/12."]


def test_warm_up_level_uses_single_digits():
    for problem in generate_problems("arith", 100, seed=0, difficulty=0):
        _, state = problem_state(problem)
        leaves = [node.num for node in _leaves(state)]
        assert len(leaves) == 3 and all(1 <= n <= 9 for n in leaves) and "*" not in problem.question
    for problem in generate_problems("fractions", 100, seed=0, difficulty=0):
        _, state = problem_state(problem)
        small, large = sorted((state.left.den, state.right.den))
        assert large % small == 0
    for problem in generate_problems("linear", 100, seed=0, difficulty=0):
        _, state = problem_state(problem)
        assert 2 <= state.a <= 5 and state.c == 0 and 0 < abs(state.b) <= 9 and 0 < abs(state.d - state.b) <= 45
        steps = solve_steps(FAMILIES["linear"], state)
        assert FAMILIES["linear"].check_text(steps).endswith("Correct.")
    # the check step of `4 - 1` verifies the subtraction (a step whose right operand is 1)
    steps = solve_steps(FAMILIES["arith"], Op("-", Op("+", Num(3), Num(1)), Num(1)))
    assert FAMILIES["arith"].check_text(steps) == "Check: 3 + 1 = 4. Correct."


def _leaves(node):
    return [node] if isinstance(node, Num) else _leaves(node.left) + _leaves(node.right)


def test_procedural_spec_names_families_and_difficulties():
    assert parse_procedural_spec("procedural:arith,linear") == ({"arith": 1.0, "linear": 1.0}, None)
    assert parse_procedural_spec("procedural:fractions:0,2") == ({"fractions": 1.0}, [0, 2])
    with pytest.raises(ValueError, match="geometry"):
        parse_procedural_spec("procedural:arith,geometry")
    with pytest.raises(ValueError, match="bad difficulty"):
        parse_procedural_spec("procedural:arith:7")


def test_difficulty_means_more_steps():
    def mean_steps(difficulty):
        problems = generate_problems("arith", 50, seed=1, difficulty=difficulty)
        return sum(len(solve_steps(*problem_state(p))) for p in problems) / 50

    assert mean_steps(0) <= mean_steps(1) < mean_steps(2) < mean_steps(3)


def test_train_and_test_never_share_a_problem():
    for family in FAMILIES:
        for difficulty in (1, 2):
            train = generate_problems(family, 300, seed=0, split="train", difficulty=difficulty)
            test = generate_problems(family, 100, seed=0, split="test", difficulty=difficulty)
            test_other_seed = generate_problems(family, 100, seed=9, split="test", difficulty=difficulty)
            train_questions = {p.question for p in train}
            assert not train_questions & {p.question for p in test + test_other_seed}
            assert all(split_of(f"{family}|{p.question}") == "test" for p in test)


def test_mix_counts_and_errors():
    problems = generate_mix({"arith": 2.0, "linear": 1.0}, [1, 2], 31, seed=0)
    assert len(problems) == 31 and len({p.id for p in problems}) == 31
    assert sum(p.meta["family"] == "arith" for p in problems) in (20, 21, 22)
    with pytest.raises(ValueError, match="unknown problem family 'geometry'"):
        generate_problems("geometry", 1)
    with pytest.raises(ValueError, match="yielded only"):
        generate_problems("fractions", 5000, difficulty=1)


def test_export_command_writes_a_held_out_set(tmp_path):
    from data_synthesis.export import main

    assert main([str(tmp_path / "held_out.jsonl"), "--n", "12", "--families", "linear,arith"]) == 0
    loaded = load_problems(tmp_path / "held_out.jsonl", ColumnMap(meta=["family"]))
    assert len(loaded) == 12 and all(split_of(f"{p.meta['family']}|{p.question}") == "test" for p in loaded)


def test_export_loads_with_satori_problems(tmp_path):
    problems = generate_problems("fractions", 20, seed=0, split="test", difficulty=2)
    export_jsonl(problems, tmp_path / "fractions_test.jsonl")
    loaded = load_problems(tmp_path / "fractions_test.jsonl", ColumnMap(meta=["family", "difficulty", "spec"]))
    assert [(p.id, p.question, p.gold, p.solution) for p in loaded] == \
        [(p.id, p.question, p.gold, p.solution) for p in problems]
    assert problem_state(loaded[0])[1] == problem_state(problems[0])[1]
