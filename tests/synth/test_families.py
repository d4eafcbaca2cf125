"""Procedural families: reproducible, exact gold, disjoint splits, loadable exports."""

from __future__ import annotations

from fractions import Fraction

import pytest

from data_synthesis.expr import Equation, Num, Op
from data_synthesis.families import (DIFFICULTIES, FAMILIES, export_jsonl, generate_mix, generate_problems,
                                     parse_procedural_spec, problem_state, solve_steps, split_of)
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


@pytest.mark.slow
def test_train_and_test_never_share_a_problem():
    for family in FAMILIES:
        for difficulty in (1, 2):
            train = generate_problems(family, 300, seed=0, split="train", difficulty=difficulty)
            test = generate_problems(family, 100, seed=0, split="test", difficulty=difficulty)
            test_other_seed = generate_problems(family, 100, seed=9, split="test", difficulty=difficulty)
            train_questions = {p.question for p in train}
            assert not train_questions & {p.question for p in test + test_other_seed}
            assert all(split_of(f"{family}|{p.question}") == "test" for p in test)


@pytest.mark.slow
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


# --- word problems ------------------------------------------------------------------------------

def _word_ops(node) -> int:
    return 0 if isinstance(node, Num) else 1 + _word_ops(node.left) + _word_ops(node.right)


def _word_numbers(node) -> list[int]:
    """The numbers a story must mention: leaves left to right, a divisor ``1/k`` as ``k``."""
    return [node.den if node.num == 1 and node.den > 1 else node.num for node in _leaves(node)]


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3])
def test_word_gold_is_the_sympy_value_of_the_tree(difficulty):
    import sympy

    from data_synthesis.expr import render

    operations = {0: {2}, 1: {2, 3}, 2: {3, 4}, 3: {3, 4}}[difficulty]
    problems = generate_problems("word", 60, seed=1, difficulty=difficulty)
    for problem in problems:
        _, state = problem_state(problem)
        assert sympy.sympify(render(state)) == sympy.Integer(problem.gold)     # an independent parse of the tree
        assert int(problem.gold) >= 0 and str(int(problem.gold)) == problem.gold
        assert _word_ops(state) in operations
        for node in _subtrees(state):
            if isinstance(node, Op):                                          # every intermediate too
                value = fraction_value(node)
                assert value.denominator == 1 and value >= 0, (problem.question, node)
    assert {_word_ops(problem_state(p)[1]) for p in problems} == operations


def _subtrees(node):
    yield node
    if isinstance(node, Op):
        yield from _subtrees(node.left)
        yield from _subtrees(node.right)


@pytest.mark.parametrize("difficulty", [0, 1, 3])
def test_word_reference_steps_chain_to_the_gold(difficulty):
    from satori.claims import evaluate

    for problem in generate_problems("word", 40, seed=2, difficulty=difficulty):
        family, state = problem_state(problem)
        steps = solve_steps(family, state)
        assert len(steps) == _word_ops(state) and steps[0].before == state
        for step, following in zip(steps, steps[1:] + [None]):
            left, right = step.claim_text().split(" = ")
            assert evaluate(left) == evaluate(right) == fraction_value(step.result)    # claims.py reads it
            assert step.text.startswith(step.claim_text()) and not step.mistake
            assert fraction_value(step.after) == fraction_value(state)
            assert following is None or following.before == step.after
        assert steps[-1].after == Num(int(problem.gold))
        assert problem.solution == " ".join(s.text for s in steps) + f" The answer is \\boxed{{{problem.gold}}}."
        assert family.check_text(steps).startswith("Check: ") and family.check_text(steps).endswith(". Correct.")
    # a division is written as one, and checked by multiplying back
    word = FAMILIES["word"]
    steps = solve_steps(word, Op("*", Op("*", Num(6), Num(8)), Num(1, 4)))
    assert [s.text for s in steps] == ["6 * 8 = 48.", "48 / 4 = 12."]
    assert word.check_text(steps) == "Check: 12 * 4 = 48. Correct."


def _assert_reads_as_a_story(question: str, numbers: list[int]) -> None:
    import re

    assert question[0].isupper() and question.endswith("?") and "  " not in question
    assert not set(question) & set("*/+=^<>{}[]()\\|_") and " - " not in question, question
    sentences = re.split(r"(?<=[.?!]) ", question)
    assert len(sentences) >= 2 and all(s[0].isupper() and s[-1] in ".?" for s in sentences), question
    assert sorted(int(n) for n in re.findall(r"\d+", question)) == sorted(numbers), question


def test_word_questions_are_deterministic_english_stories():
    first = {d: generate_problems("word", 50, seed=3, difficulty=d) for d in DIFFICULTIES}
    for difficulty, problems in first.items():
        assert [p.to_dict() for p in problems] == \
            [p.to_dict() for p in generate_problems("word", 50, seed=3, difficulty=difficulty)]
        for problem in problems:
            _, state = problem_state(problem)
            _assert_reads_as_a_story(problem.question, _word_numbers(state))
            assert FAMILIES["word"].question(state) == problem.question            # a function of the state
    # pinned: a sha256 of the state picks the story, so other processes and machines agree
    word = FAMILIES["word"]
    assert word.question(Op("-", Op("*", Num(4), Num(12)), Num(9))) == (
        "Omar bakes 4 trays of cookies with 12 cookies on each tray. His family eats 9 of the cookies. "
        "How many cookies are left?")
    with pytest.raises(ValueError, match="no word-problem story"):
        word.question(Op("*", Num(3), Op("-", Num(5), Num(2))))


def test_every_word_template_names_each_number_once():
    from data_synthesis.families import WORD_SHAPES, _operations

    assert {_operations(pattern) for pattern, _ in WORD_SHAPES} == {2, 3, 4}
    for pattern, templates in WORD_SHAPES:
        leaves = len(re_leaves(pattern))
        numbers = [11 + i for i in range(leaves)]
        assert len(templates) >= 2
        for template in templates:
            for pronoun in ({"he": "he", "him": "him", "his": "his"}, {"he": "she", "him": "her", "his": "her"}):
                text = template.format(name="Mia", **pronoun, He=pronoun["he"].capitalize(),
                                       His=pronoun["his"].capitalize(), **dict(zip("abcde", map(str, numbers))))
                _assert_reads_as_a_story(text, numbers)


def re_leaves(pattern) -> list[str]:
    return [pattern] if isinstance(pattern, str) else re_leaves(pattern[1]) + re_leaves(pattern[2])


@pytest.mark.slow
def test_word_train_and_test_never_share_a_problem():
    for difficulty in (0, 1):
        train = generate_problems("word", 1000, seed=0, split="train", difficulty=difficulty)
        test = generate_problems("word", 300, seed=0, split="test", difficulty=difficulty)
        test_other_seed = generate_problems("word", 300, seed=7, split="test", difficulty=difficulty)
        assert not {p.question for p in train} & {p.question for p in test + test_other_seed}
        assert all(split_of(f"word|{p.question}") == "train" for p in train)
        assert all(split_of(f"word|{p.question}") == "test" for p in test + test_other_seed)


def test_word_state_round_trips_through_json():
    import json

    from data_synthesis.expr import from_json, to_json
    from data_synthesis.families import make_problem

    for difficulty in DIFFICULTIES:
        for problem in generate_problems("word", 20, seed=4, difficulty=difficulty):
            _, state = problem_state(problem)
            again = from_json(json.loads(json.dumps(to_json(state))))
            assert again == state and to_json(again) == problem.meta["spec"]
            assert make_problem("word", again, difficulty).to_dict() == problem.to_dict()


def test_word_mistakes_change_the_value_and_stay_in_the_story():
    import random

    from data_synthesis.expr import value

    word = FAMILIES["word"]
    rng = random.Random(0)
    seen = set()
    for problem in generate_problems("word", 80, seed=5, difficulty=2):
        for step in solve_steps(*problem_state(problem)):
            for kind in word.kinds:
                wrong = word.mistake(step.before, kind, rng)
                if wrong is None:
                    continue
                seen.add(kind)
                assert wrong.mistake == kind and wrong.before == step.before
                assert value(wrong.after) != value(step.before)
                assert all(fraction_value(n) >= 0 and fraction_value(n).denominator == 1
                           for n in _subtrees(wrong.after) if isinstance(n, Op) or n.den == 1)
    assert seen == set(word.kinds)
    # sign: the story's "gives away 9" added instead of taken away (true arithmetic, wrong operation)
    sign = word.mistake(Op("-", Op("*", Num(4), Num(12)), Num(9)), "sign", rng)
    assert sign is None                                     # 4 * 12 comes first: no +/- to flip yet
    sign = word.mistake(Op("-", Num(48), Num(9)), "sign", rng)
    assert sign.text == "48 + 9 = 57." and sign.after == Num(57)
    precedence = word.mistake(Op("+", Num(8), Op("*", Num(3), Num(4))), "precedence", rng)
    assert precedence.text == "8 + 3 = 11." and value(precedence.after) == 44
    slip = word.mistake(Op("*", Num(48), Num(1, 4)), "slip", rng)
    assert slip.claim_text() != "48 / 4 = 12" and slip.claim_text().startswith("48 / 4 = ")
    # a wrong product that no longer divides evenly is not offered (no 12.5 cookies per friend)
    for _ in range(20):
        wrong = word.mistake(Op("*", Op("*", Num(6), Num(8)), Num(1, 4)), "slip", rng)
        assert wrong is None or fraction_value(wrong.after).denominator == 1


@pytest.mark.slow
def test_word_spec_mix_and_supply():
    assert parse_procedural_spec("procedural:word") == ({"word": 1.0}, None)
    assert parse_procedural_spec("procedural:arith,word:0,1") == ({"arith": 1.0, "word": 1.0}, [0, 1])
    mix = generate_mix({"word": 1.0, "arith": 1.0}, list(DIFFICULTIES), 24, seed=0)
    assert len({p.id for p in mix}) == 24 and {p.meta["difficulty"] for p in mix if p.meta["family"] == "word"} \
        == set(DIFFICULTIES)
    assert len(generate_problems("word", 3000, seed=0, difficulty=0)) == 3000   # the warm-up level does not run dry
    assert len(generate_problems("word", 5000, seed=0, difficulty=1)) == 5000


def test_scripted_synthesis_on_word_problems(tmp_path):
    import json

    from data_synthesis.cli import synthesize
    from data_synthesis.config import SynthConfig
    from satori import coat
    from satori.claims import find_claims
    from satori.config import load_config
    from satori.grading import VerifierPool

    families, levels = parse_procedural_spec("procedural:word:0,1")
    config = load_config(SynthConfig, None, [
        f"run_dir={tmp_path}", f"source.procedural.families={json.dumps(families)}",
        f"source.procedural.difficulties={levels}", "source.procedural.n=60", "progress=false", "max_rounds=2",
        "agents.verifier_workers=1", "agents.verifier_warm_up=false"])
    stats = synthesize(config)
    demos = [json.loads(line) for line in (tmp_path / "demos.jsonl").read_text().splitlines()]
    assert stats["demos"] == len(demos) == 60 and stats["rejections"] == {}
    with VerifierPool(workers=1, warm_up=False) as pool:
        assert all(v.correct for v in pool.verify_batch([(d["coat"], d["gold"]) for d in demos]))
    assert {d["kind"] for d in demos} == {"correct_verified", "error_reflect_explore", "multi_round"}
    assert {m for d in demos for m in d["mistakes"]} >= {"slip", "sign"}
    for demo in demos:
        assert demo["id"].startswith("word-d") and coat.final_answer(demo["coat"]) == demo["gold"]
        assert demo["problem"].endswith("?") and "*" not in demo["problem"]
        claims = find_claims(demo["coat"])
        assert claims, demo["coat"]
        if demo["kind"] == "correct_verified":
            steps = [s for s in coat.parse(demo["coat"]) if s.name == "continue"]
            assert len(claims) == len(steps) and all(c.holds for c in claims)
