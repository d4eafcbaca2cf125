import pytest

from satori import coat
from satori.coat import CONTINUE, EXPLORE, REFLECT, CoatFormatError, Step

GOOD = (f"{CONTINUE}First, 3 + 4 = 8.\n{REFLECT}Wait, 3 + 4 = 7, not 8.\n{EXPLORE}Recompute: 3 + 4 = 7."
        f"\n{CONTINUE}So the answer is \\boxed{{7}}.")


def test_parse_splits_steps_and_round_trips_exactly():
    steps = coat.parse(GOOD)
    assert [s.name for s in steps] == ["continue", "reflect", "explore", "continue"]
    assert steps[1] == Step(REFLECT, "Wait, 3 + 4 = 7, not 8.\n")
    assert coat.render(steps) == GOOD


@pytest.mark.parametrize("text", [
    GOOD,
    f"{CONTINUE}only one step \\boxed{{\\frac{{1}}{{2}}}}",
    f"{REFLECT}  \n  odd whitespace\n\n{CONTINUE}\t\\boxed{{x}}\n",
])
def test_round_trip(text):
    assert coat.render(coat.parse(text)) == text


@pytest.mark.parametrize("text, fragment", [
    ("Intro text " + GOOD, "text before the first action token"),
    (" " + GOOD, "text before the first action token"),
    ("no tokens at all \\boxed{3}", "no action token"),
    (f"{CONTINUE}a<|think|>b", "unknown token <|think|>"),
    (f"{CONTINUE}a{REFLECT}{CONTINUE}b", "empty reflect step"),
    (f"{CONTINUE}a{REFLECT}   \n{CONTINUE}b", "empty reflect step"),
    (f"{CONTINUE}answer \\boxed{{12", "never closed"),
    (f"{CONTINUE}answer \\boxed{{\\boxed{{12}}}}", "holds another"),
])
def test_malformed_trajectories_get_specific_errors(text, fragment):
    with pytest.raises(CoatFormatError, match=None) as info:
        coat.parse(text)
    assert fragment in str(info.value)
    assert not coat.is_valid(text)


def test_visible_text_final_answer_and_counts():
    assert CONTINUE not in coat.visible_text(GOOD)
    assert coat.visible_text(GOOD).startswith("First, 3 + 4 = 8.\nWait")
    assert coat.final_answer(GOOD) == "7"
    assert coat.final_answer(f"{CONTINUE}\\boxed{{1}} then \\boxed{{(1,2)}}") == "(1,2)"
    assert coat.final_answer(f"{CONTINUE}no answer") is None
    assert coat.count_actions(GOOD) == {"continue": 2, "reflect": 1, "explore": 1}
    assert coat.is_valid(GOOD, require_answer=True)
    assert not coat.is_valid(f"{CONTINUE}no answer", require_answer=True)


def test_before_first_reflect():
    assert coat.before_first(GOOD) == f"{CONTINUE}First, 3 + 4 = 8.\n"
    assert coat.before_first(f"{CONTINUE}x") is None


def test_step_offsets_and_restart_prefix():
    offsets = coat.step_offsets(GOOD)
    assert len(offsets) == 4 and offsets[0] == 0
    assert all(GOOD[o] == "<" for o in offsets)
    one_back = coat.restart_prefix(GOOD, 1)
    assert one_back == GOOD[: offsets[3]] + REFLECT
    assert coat.restart_prefix(GOOD, 3) == GOOD[: offsets[1]] + REFLECT
    assert coat.restart_prefix(GOOD, 4) is None  # would keep no step
    assert coat.restart_prefix(GOOD, 0) is None


def test_token_step_starts():
    assert coat.token_step_starts([5, 1, 2, 6, 3, 5], {5, 6}) == [0, 3, 5]
