"""extract_answer on realistic completions: boxes anywhere, cues, GSM8K markers, malformed markup."""

from __future__ import annotations

import time

import pytest

from satori.grading import extract_answer
from satori.grading.extract import answer_of

COAT_COMPLETION = (
    "<|continue|>Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 remain.\n"
    "<|continue|>At $2 each she earns 9 \\times 2 = \\boxed{17} dollars.\n"
    "<|reflect|>Wait, 9 \\times 2 = 18, not 17. Let me recompute.\n"
    "<|continue|>She earns 9 \\times 2 = 18 dollars, so the answer is \\boxed{18}.\n"
)
LONG_PREFIX = "We expand step by step and check each term carefully.\n" * 3000


@pytest.mark.parametrize("completion, expected", [
    (COAT_COMPLETION, "18"),
    ("So $x = \\boxed{\\frac{1}{2}}$ and we are done.", "\\frac{1}{2}"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("The set is $\\boxed{\\{1, 2\\}}$.", "\\{1, 2\\}"),
    ("First \\boxed{1}, then \\fbox{2}.", "2"),
    ("\\boxed 5 is it", "5"),
    ("Final answer: \\boxed{7}. The answer is 8", "7"),
    ("The answer is 42.", "42"),
    ("the answer is: $\\frac{3}{4}$. Done.", "\\frac{3}{4}"),
    ("THE ANSWER IS 3.5", "3.5"),
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12"),
    ("Final Answer: (B)", "(B)"),
    ("I think the answer is 3.\nActually, the answer is 4.\n", "4"),
    ("She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18", "18"),
    ("#### 1,000\n", "1,000"),
    ("The answer is 5.\n#### 6", "6"),
    ("#### 6\nOn reflection, the answer is 7.", "7"),
    ("\\boxed{3} " + LONG_PREFIX, "3"),
    (LONG_PREFIX + "so the result is \\boxed{-2} " + LONG_PREFIX, "-2"),
    ("\\boxed{5} and then an unclosed \\boxed{6", "5"),
    ("\\boxed{ a \\boxed{7}", "7"),
    ("\\boxed{\\boxed{8}}", "\\boxed{8}"),
])
def test_extract(completion, expected):
    assert extract_answer(completion) == expected


@pytest.mark.parametrize("completion", ["", "No final answer here.", "\\boxed{", "}}}}\\boxed{", "####   \n"])
def test_extract_none(completion):
    assert extract_answer(completion) is None


def test_answer_of_bare_answer_is_itself():
    assert answer_of("  \\frac{1}{2} ") == "\\frac{1}{2}"
    assert answer_of("Solution: ... so \\boxed{3}.") == "3"


def test_extraction_is_linear_on_hostile_inputs():
    hostile = ["\\boxed{" * 50_000, "{" * 200_000 + "\\boxed{1}", "x" * 1_000_000 + "\\boxed{9}",
               "The answer is " * 70_000]
    start = time.perf_counter()
    results = [extract_answer(text) for text in hostile]
    assert time.perf_counter() - start < 5.0
    assert results[:3] == [None, "1", "9"]
