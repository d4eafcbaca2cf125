"""Arithmetic claims read from model text: found, checked exactly, never executed."""

from fractions import Fraction

import pytest

from satori.claims import MAX_DEPTH, MAX_DIGITS, claim_share, evaluate, find_claims


def claims(text):
    return [(c.text, c.holds) for c in find_claims(text)]


def test_claims_in_continue_and_explore_steps_are_checked():
    text = ("<|continue|>2 + 5 = 10, giving 10 + 2.\n"
            "<|continue|>(-1) + 7 = 6. The answer is \\boxed{6}.\n"
            "<|reflect|>Wait, 2 + 5 = 10 is wrong: 2 + 5 = 7.\n"
            "<|explore|>Instead, 1/8 + 5/16 = 2/16 + 5/16 = 7/16.")
    assert claims(text) == [("2 + 5 = 10", False), ("(-1) + 7 = 6", True),
                            ("1/8 + 5/16 = 2/16 + 5/16 = 7/16", True)]
    assert claim_share(find_claims(text)) == pytest.approx(2 / 3)


def test_runs_touching_letters_or_without_two_sides_are_not_claims():
    text = "<|continue|>Add 3 to both sides: 5x = 10. Divide: x = 2. So x2 = 3, 2 = 2y, and 7 - 2 is 5."
    assert claims(text) == []
    assert claim_share(find_claims(text)) is None


def test_precedence_unary_minus_and_division_by_zero():
    assert claims("<|continue|>Check: 5 * 2 - 3 = 7. Also -(2 - 6) / 2 = 2 and 4/0 = 1.") == [
        ("5 * 2 - 3 = 7", True), ("-(2 - 6) / 2 = 2", True), ("4/0 = 1", False)]
    assert evaluate("1.5 * 4") == Fraction(6)
    assert evaluate("3/0") is None


@pytest.mark.parametrize("text", [
    "<|continue|>" + "9" * (MAX_DIGITS + 1) + " + 1 = 2",                 # too many digits
    "<|continue|>" + "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1) + " = 1",  # too deep
    "<|continue|>" + " + ".join(["1"] * 40) + " = 40",                    # too many tokens
    "<|continue|>(2 + 3 = 5",                                             # unbalanced
    "<|continue|>2 ** 3 = 8",                                             # not an operator here
    "<|continue|>__import__('os') = 1",
])
def test_hostile_or_oversized_runs_are_skipped_not_evaluated(text):
    assert claims(text) == []


def test_text_without_action_tokens_has_no_claims():
    assert find_claims("2 + 2 = 4") == []


def test_claims_know_where_they_sit_in_the_text():
    text = ("Preamble <|continue|>2 + 5 = 10, giving 10 + 2.\n"
            "<|reflect|>Wait, 2 + 5 = 10 is wrong.\n<|explore|>Instead, 2 + 5 = 3 + 4 = 7.")
    found = find_claims(text)
    assert [text[c.start:c.end] for c in found] == ["2 + 5 = 10", "2 + 5 = 3 + 4 = 7"]
    assert [text[c.result_start:c.end] for c in found] == ["= 10", "= 3 + 4 = 7"]
