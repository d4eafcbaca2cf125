import sys

import satori.latex
from satori.latex import BoxSpan, brace_partners, find_boxes, last_boxed


def test_boxes_balanced_nested_braces_and_bare_tokens():
    text = r"so \boxed{\frac{1}{2}} or \boxed 5 or \fbox{7} and \boxed{a \{ b}"
    contents = [b.content for b in find_boxes(text)]
    assert contents == [r"\frac{1}{2}", "5", "7", r"a \{ b"]
    first = find_boxes(text)[0]
    assert text[first.start:first.end] == r"\boxed{\frac{1}{2}}"


def test_unclosed_box_is_skipped_unless_strict():
    assert last_boxed(r"\boxed{1} then \boxed{2") == "1"
    assert find_boxes(r"\boxed{") == []


def test_brace_partners():
    assert brace_partners("{a{b}c}") == {0: 6, 2: 4}
    assert brace_partners("{a{b}c") == {2: 4}
    assert brace_partners(r"{\}}") == {0: 3}
    assert brace_partners("}{}{") == {1: 2}


class _OverBudget(Exception):
    pass


def lines_run(call, budget: int) -> int:
    """Python lines executed inside satori/latex.py while ``call()`` runs: a deterministic count of work.

    Counting stops (and ``call`` is abandoned) once it passes ``budget``, so a quadratic regression
    fails fast instead of hanging. Work done inside ``re`` is not counted.
    """
    count = 0

    def in_latex(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                raise _OverBudget
        return in_latex

    source = satori.latex.find_boxes.__code__.co_filename
    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: in_latex if frame.f_code.co_filename == source else None)
    try:
        call()
    except _OverBudget:
        pass
    finally:
        sys.settrace(previous)
    return count


def assert_linear(make_text, n: int) -> None:
    """4x the input costs at most 5x the lines of the 1x input (linear: ~4x; a scan per box: ~16x)."""
    small = lines_run(lambda: find_boxes(make_text(n)), budget=10**7)
    large = lines_run(lambda: find_boxes(make_text(4 * n)), budget=5 * small)
    assert large <= 5 * small, f"{large} lines for 4x the input of {small}: not linear"


def test_many_unclosed_boxes_stay_linear():
    unclosed = lambda n: "\\boxed{ " * n + "\\boxed{7}"  # noqa: E731
    assert_linear(unclosed, 200)
    assert last_boxed(unclosed(800)) == "7"


def test_long_input_keeps_exact_offsets_and_many_closed_boxes_stay_linear():
    assert_linear(lambda n: ("x" * 50 + r" \boxed{\frac{1}{2}} {a} \{ ") * n, 100)
    text = "x" * 1_000_000 + r"\boxed{42}"
    assert find_boxes(text) == [BoxSpan(1_000_000, 1_000_000 + 10, "42")]
