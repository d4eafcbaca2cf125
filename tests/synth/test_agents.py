"""Scripted generator and critic: realistic mistakes, found at the right step with sympy."""

from __future__ import annotations

import random

import pytest
from sympy import Integer

from data_synthesis.agents import Request, ScriptedCritic, ScriptedGenerator, clean_text, step_texts
from data_synthesis.expr import Equation, Num, Op, render
from data_synthesis.families import FAMILIES, generate_problems, make_problem


def mistaken_attempts(family, kind, n=60):
    problems = generate_problems(family, n, seed=5, difficulty=2)
    generator = ScriptedGenerator(mistake_rate=1.0, mistake_kinds=(kind,))
    attempts = generator.generate([Request(p, seed=i, want_mistake=True) for i, p in enumerate(problems)])
    return [(p, a) for p, a in zip(problems, attempts) if any(s.mistake for s in a.trace)]


@pytest.mark.parametrize("family, kind", [(f, k) for f in sorted(FAMILIES) for k in FAMILIES[f].kinds])
def test_critic_finds_the_injected_mistake(family, kind):
    pairs = mistaken_attempts(family, kind)
    assert len(pairs) >= 5, f"{family}/{kind} mistakes should be common"
    critiques = ScriptedCritic().critique([p for p, _ in pairs], [a for _, a in pairs])
    for (problem, attempt), critique in zip(pairs, critiques):
        injected = next(i for i, s in enumerate(attempt.trace) if s.mistake == kind)
        assert critique.wrong_step == injected
        wrong = attempt.trace[injected]
        named = wrong.claim_text() in critique.reflection or critique.reflection.endswith(f", not {render(wrong.result)}.")
        assert named, critique.reflection
        assert attempt.answer != problem.gold


def test_mistake_kinds_look_like_their_names():
    arith = FAMILIES["arith"]
    import random

    rng = random.Random(0)
    carry = arith.mistake(Op("+", Num(48), Num(37)), "carry", rng)
    assert carry.text == "48 + 37 = 75."                     # 8 + 7 = 15: the carried 1 is lost
    sign = arith.mistake(Op("-", Num(12), Num(30)), "sign", rng)
    assert sign.text == "12 - 30 = 18."
    precedence = arith.mistake(Op("-", Op("+", Num(8), Op("*", Num(3), Num(4))), Num(1)), "precedence", rng)
    assert precedence.text == "8 + 3 = 11, giving 11 * 4 - 1."
    problem = make_problem("arith", precedence.before, 2)
    attempt = ScriptedGenerator().generate([Request(problem, seed=0, want_mistake=False)])[0]
    attempt.trace[0] = precedence
    critique = ScriptedCritic().critique([problem], [attempt])[0]
    assert critique.wrong_step == 0
    assert critique.reflection == "Check: 8 + 3 = 11 is wrong here: 3 * 4 = 12 comes first."
    denominator = FAMILIES["fractions"].mistake(Op("+", Num(3, 4), Num(5, 6)), "denominator", rng)
    assert denominator.text == "3/4 + 5/6 = 8/10."


def test_correct_attempts_pass_the_critic_and_verify_text():
    problems = [p for f in FAMILIES for p in generate_problems(f, 30, seed=2, difficulty=3)]
    attempts = ScriptedGenerator(mistake_rate=0.0).generate([Request(p, seed=0) for p in problems])
    assert all(a.answer == p.gold for p, a in zip(problems, attempts))
    critic = ScriptedCritic()
    assert all(c.wrong_step is None for c in critic.critique(problems, attempts))
    checks = critic.verification(problems, attempts)
    assert all(c.reflection == f"Check: {', '.join(s.claim_text() for s in a.trace)}. Correct."
               for a, c in zip(attempts, checks))


def test_the_critic_recomputes_claims_up_to_the_first_wrong_one():
    problem = make_problem("arith", Op("+", Num(1), Op("-", Num(9), Num(7))), 0)
    attempt = ScriptedGenerator().generate([Request(problem, seed=0, want_mistake=False)])[0]
    slip = FAMILIES["arith"].mistake(attempt.trace[1].before, "slip", random.Random(0))
    attempt.trace[1] = slip
    critique = ScriptedCritic().critique([problem], [attempt])[0]
    assert critique.wrong_step == 1
    assert critique.reflection == f"Check: 9 - 7 = 2, 1 + 2 = 3, not {slip.result.num}."
    linear = make_problem("linear", Equation(Integer(2), Integer(4), Integer(0), Integer(10)), 0)   # 2x + 4 = 10
    solved = ScriptedGenerator(mistake_rate=0.0).generate([Request(linear, seed=0)])
    assert ScriptedCritic().verification([linear], solved)[0].reflection == "Check: 10 - 4 = 6, 6 / 2 = 3. Correct."


@pytest.mark.slow
def test_mistake_rate_and_refinement():
    problems = generate_problems("arith", 400, seed=1, difficulty=2)
    generator = ScriptedGenerator(mistake_rate=0.3)
    attempts = generator.generate([Request(p, seed=i) for i, p in enumerate(problems)])
    wrong = sum(a.answer != p.gold for p, a in zip(problems, attempts))
    assert 0.22 < wrong / 400 < 0.38
    problem, attempt = next((p, a) for p, a in zip(problems, attempts) if a.answer != p.gold)
    critique = ScriptedCritic().critique([problem], [attempt])[0]
    fixed = generator.generate([Request(problem, seed=1, previous=attempt, critique=critique,
                                        want_mistake=False)])[0]
    assert fixed.answer == problem.gold
    assert fixed.trace[0].before == attempt.trace[critique.wrong_step].before


def test_model_text_is_split_and_cleaned_not_evaluated():
    assert step_texts("First 2 + 2 = 4.\n\nSo \\boxed{4}<|eos|>") == ["First 2 + 2 = 4.", "So \\boxed{4}"]
    assert step_texts("<|continue|>a<|reflect|>b") == ["a", "b"]
    assert clean_text("Step 2 is wrong: \\boxed{5} <|explore|>", keep_boxes=False) == "Step 2 is wrong: {5}"
