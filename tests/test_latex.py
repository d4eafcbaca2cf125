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


def test_many_unclosed_boxes_stay_linear():
    text = "\\boxed{ " * 20_000 + "\\boxed{7}"
    assert last_boxed(text) == "7"


def test_long_input_is_linear():
    text = "x" * 1_000_000 + r"\boxed{42}"
    assert find_boxes(text) == [BoxSpan(1_000_000, 1_000_000 + 10, "42")]
