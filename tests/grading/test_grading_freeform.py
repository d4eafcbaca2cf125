"""Free-form completions and answer shapes beyond one boxed value: a table per class, both verdicts.

Extraction rows are (completion, span, rule); grading rows are (gold, prediction, expected correct).
Near misses must be rejected: ``x > 5`` vs ``x >= 5``, a wrong matrix entry, one answer of two.
"""

from __future__ import annotations

import time

import pytest

from satori.grading import extract_answer
from satori.grading.extract import answer_for_grading
from satori.latex import unescape_doubled_backslashes

GATHERED = "$$\n\\begin{gathered}\n\\log x-\\log y=3 \\\\\n\\Leftrightarrow \\frac{x}{y}=10^{3}=1000\n\\end{gathered}\n$$"
ALIGNED = "We have\n\\[\n\\begin{aligned}\nx &= 4 + 5 \\\\\n&= 9\n\\end{aligned}\n\\]\nThis completes the solution."
RUN_ON = "The answer is 5.<|im_end|>\n<|im_start|>user\nAnd 2+4?<|im_end|>\n<|im_start|>assistant\nThe answer is 6."
STEPS = "Step 1: 2 + 3 = 5\nStep 2: 5 + 9 = 14\nShe has 14 apples now."

# rule -> (completion, span it chooses); the priority rows hold the answer of a lower rule too.
EXTRACTION = {
    "boxed": [("\\\\boxed{\\\\frac{1}{2}}", "\\frac{1}{2}"), ("$x = \\boxed{3}$ and $x = \\boxed{-4}$", "3, -4"),
              ("x = \\boxed{3} or x = \\boxed{-4}", "-4"),   # "or" gives alternatives, not a list
              ("Final answer: 5\nSo \\boxed{6}", "6")],
    "final_answer": [("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
                     ("Therefore the final answer is:\n\n$$\n12\n$$", "12"), ("### Final Answer\n\\[ x = 5 \\]", "x = 5"),
                     ("Final answer: 2,500.75 €", "2,500.75 €"), ("Answer: 3\nThe final answer is 4.", "4")],
    "answer_label": [("**Answer:** 42", "42"), ("Answer: \\(x = 5\\)", "x = 5"), ("The answer is 4.\nAnswer: 3", "3"),
                     ("<|im_start|>assistant\nAnswer: 5", "5")],
    "answer_is": [("The answer is therefore $5$.", "5"), ("The answers are $3$ and $-4$.", "3, -4"),
                  ("So the answer is 7 because 3 + 4 = 7.", "7"), ("The answer is 18 dollars, since 9 * 2 = 18.", "18 dollars"),
                  (RUN_ON, "5")],                             # the next chat turn is not read
    "display": [(ALIGNED, "9")],
    "whole": [("\\frac{1}{2}", "\\frac{1}{2}"), ("No real solutions", "No real solutions")],
    "last_value": [("To find the final answer, we add 3 and 4 to get 7.", "7"), ("Thus \\(x = \\frac{1}{2}\\).", "x = \\frac{1}{2}"),
                   (STEPS, "14"), ("So, the total profit is $20,000.\n\nI hope this helps!", "20,000"),
                   ("He paid $80,000 + $50,000 = $130,000 in total.", "130,000"),
                   ("So the values of $a$ are $\\frac{32}{9}$ and $\\frac{1}{2}$.", "\\frac{32}{9}, \\frac{1}{2}"),
                   ("We get $x = 2$. Hence $y = 3$ too.", "y = 3"),        # a sentence between: no list
                   ("it follows that $B_{2017}=$ $2^{1009}$", "B_{2017}= 2^{1009}")],  # one equation in two spans
}


@pytest.mark.parametrize("rule, completion, span", [(rule, c, s) for rule, rows in EXTRACTION.items() for c, s in rows])
def test_extraction_span_and_rule(rule, completion, span):
    found = answer_for_grading(completion)
    assert (found.text, found.rule) == (span, rule)
    assert extract_answer(completion) == (None if rule in ("whole", "last_value") else span)


def test_stated_answer_is_none_without_a_statement():
    assert extract_answer("I could not finish the problem in time.") is None
    assert answer_for_grading("") is None


def test_row_breaks_alone_are_not_escaping():
    matrix = "\\begin{pmatrix}a\\\\b\\\\c\\\\d\\end{pmatrix}"
    assert unescape_doubled_backslashes(matrix) == matrix
    assert unescape_doubled_backslashes("\\\\begin{pmatrix}1\\\\\\\\2\\\\end{pmatrix}") == \
        "\\begin{pmatrix}1\\\\2\\end{pmatrix}"


def test_free_form_extraction_is_linear():
    hostile = ["$" * 1_000_000, "\\[" * 300_000, "Answer: " * 100_000, "\\(" * 300_000 + "x", "1 " * 500_000,
               "$$" * 300_000, "Final answer\n" * 80_000, "\\\\frac" * 150_000, "$1$ " * 250_000, "a" * 1_000_000]
    start = time.process_time()
    for text in hostile:
        answer_for_grading(text)
    assert time.process_time() - start < 5.0


CASES: dict[str, list[tuple[object, str, bool]]] = {
    "free-form completions": [
        ("18", "Janet sells 9 eggs at \\$2 each.\nThe final answer is $18$. I hope it is correct.", True),
        ("18", "The final answer is $17$. I hope it is correct.", False),
        ("\\frac{3}{4}", "Therefore, the final answer is:\n\n$$\n\\frac{3}{4}\n$$", True),
        ("42", "**Answer:** 42", True), ("42", "First we get 42.\n**Answer:** 41", False),
        ("7", "Adding gives 3 + 4 = 7, so the answer is 7 because nothing else fits.", True),
        ("5", "We found 3 earlier, but the answer is \\(5\\).", True),
        ("120", "The final answer is: the volume is 120 cubic units.", True),
        ("\\frac{1}{2}", "Thus \\(x = \\frac{1}{2}\\).", True), ("9", ALIGNED, True), ("8", ALIGNED, False),
        ("20000", "The profit is \\$150,000 - \\$130,000.\nSo, the total profit is \\$20,000.\n\nI hope this helps!", True),
        ("20000", "So the profit is $20,000 and the cost was $130,000.", False),
        ("14", STEPS, True), ("5", STEPS, False), ("5", RUN_ON, True), ("6", RUN_ON, False),
    ],
    "several boxes": [
        (["3", "-4"], "\\boxed{3} \\text{ and } \\boxed{-4}", True), ("\\{3, -4\\}", "$x = \\boxed{3}$ and $x = \\boxed{-4}$", True),
        ("3, -4", "\\boxed{-4}, \\boxed{3}", True), ("x=3, y=4", "\\boxed{x=3}, \\boxed{y=4}", True),
        (["3", "-4"], "\\boxed{3}", False), (["3", "-4"], "\\boxed{3} \\text{ and } \\boxed{4}", False),
        ("3", "\\boxed{3} \\text{ and } \\boxed{-4}", False),
        ("\\frac{32}{9}$,$\\frac{1}{2}", "So the values of $a$ are $\\frac{32}{9}$ and $\\frac{1}{2}$.", True),
        ("\\frac{32}{9}$,$\\frac{1}{2}", "So the value of $a$ is $\\frac{1}{2}$.", False),
        (["3", "-4"], "First \\boxed{3}. The other root fails the check, so only \\boxed{-4} remains.", False),
    ],
    "relations and inequalities": [
        ("y \\leq -1", "y <= -1", True), ("y \\leq -1", "y < -1", False), ("x < 3", "x \\lt 3", True),
        ("x > 3", "x \\gt 3", True), ("x \\ge 3", "x >= 3", True), ("x \\neq 3", "x != 3", True), ("x \\neq 3", "x = 3", False),
        ("x > 5", "x >= 5", False), ("x > 5", "x \\geq 5", False), ("x \\geq 5", "x > 5", False), ("x > 5", "x < 5", False),
        ("x > 5", "(5, \\infty)", True), ("x > 5", "[5, \\infty)", False), ("-1 < x \\le 2", "(-1, 2]", True),
        ("-1 < x \\le 2", "[-1, 2]", False), ("y \\leq -1", "(-\\infty, -1]", True), ("x \\geq 2", "2 \\leq x", True),
        ("x \\geq 2", "x ⩾ 2", True), ("x \\geq 2", "x \\leqslant 2", False), ("a \\ge b", "b \\le a", True),
        ("x < -1 \\text{ or } x > 1", "x > 1 \\text{ or } x < -1", True),
    ],
    "matrices and vectors": [
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]", True),
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 5 \\end{array}\\right]", False),
        ("\\begin{pmatrix} \\frac{1}{2} & 0 \\\\ 0 & -\\frac{3}{4} \\end{pmatrix}",
         "\\begin{bmatrix} 1/2 & 0 \\\\ 0 & -0.75 \\end{bmatrix}", True),
        ("\\begin{pmatrix} \\frac{1}{2} & 0 \\\\ 0 & -\\frac{3}{4} \\end{pmatrix}",
         "\\begin{bmatrix} 1/2 & 0 \\\\ 0 & 0.75 \\end{bmatrix}", False),
        ("\\begin{pmatrix} 2 \\\\ -1 \\\\ 3 \\end{pmatrix}", "The vector is $\\begin{pmatrix} 2 \\\\ -1 \\\\ 3 \\end{pmatrix}$.", True),
        ("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}", "\\boxed{\\begin{pmatrix} 2 \\\\ -1 \\\\ 0 \\end{pmatrix}}", False),
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 & 3 & 4 \\end{pmatrix}", False),
        ("\\begin{pmatrix} 3 \\\\ 4 \\end{pmatrix}", "\\langle 3, 4 \\rangle", True),
    ],
    "labelled and compound answers": [
        # distinct labels: matched by label, or bare values in the written order
        ("PQ=3, RS=8", "3, 8", True), ("PQ=3, RS=8", "(3, 8)", True), ("PQ=3, RS=8", "RS = 8, PQ = 3", True),
        ("PQ=3, RS=8", "8, 3", False), ("PQ=3, RS=8", "PQ = 8, RS = 3", False), ("PQ=3, RS=8", "3", False),
        ("x=1, y=2", "x=2, y=1", False),
        # a labelled ratio or quotient stands for its value
        ("h:H=2:9", "2:9", True), ("h:H=2:9", "\\frac{2}{9}", True), ("h:H=2:9", "h:H = 4:18", True), ("h:H=2:9", "9:2", False),
        ("\\frac{a}{b}=\\frac{2}{\\sqrt{3}}", "\\frac{2\\sqrt{3}}{3}", True), ("\\frac{a}{b}=\\frac{2}{\\sqrt{3}}", "\\frac{\\sqrt{3}}{2}", False),
        # alternatives are a set: all of them, in any order
        ("(2,5) \\text{ or } (5,2)", "(5,2), (2,5)", True), ("(2,5) or (5,2)", "(5,2)", False), ("(2,5) or (5,2)", "(2,5), (5,2), (3,3)", False),
        # a computation or a chain states its last side
        ("5", "2 + 3 = 5", True), ("6", "2 + 3 = 5", False), ("5", "x = 2 + 3 = 5", True), ("x = 5", "x = 2 + 3 = 5", True),
        # a derivation (an identity) states its last side; an equation to solve does not
        ("2RC+R+C", "$$3R+1+(C-1)(2R+1)=3R+1+2RC+C-2R-1=2RC+R+C$$", True),
        ("2RC+R+C", "$$3R+1+(C-1)(2R+1)=2RC+R+C+1$$", False), ("5", "x + 1 = 5", False),
        ("1000", GATHERED, True), ("100", GATHERED, False),   # its last row, after the arrow
        ("2^{1009}", "it follows that $B_{2017}=$ $2^{1009}$", True), ("2^{1009}", "so $B_{2017}=$ $2^{1008}$", False),
        ("5", "Therefore, $f(f(20))=5$.", True), ("4", "Therefore, $f(f(20))=5$.", False),
        ("(10^{4}, 10^{3}), (10^{2}, 10^{-1})", "are $(x, y)=(10^{4}, 10^{3})$ and $(x, y)=(10^{2}, 10^{-1})$.", True),
        ("(10^{4}, 10^{3}), (10^{2}, 10^{-1})", "are $(x, y)=(10^{4}, 10^{3})$ and $(x, y)=(10^{2}, 10^{-2})$.", False),
    ],
    "text escaping": [
        ("\\frac{1}{2}", "\\\\frac{1}{2}", True), ("\\frac{1}{2}", "\\\\frac{1}{3}", False),
        ("(1, 2)", "\\\\left(1, 2\\\\right)", True), ("(1, 2)", "\\\\left(2, 1\\\\right)", False),
        ("\\sqrt{2}", "The answer is \\\\(\\\\sqrt{2}\\\\).", True),
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\\\begin{pmatrix} 1 \\\\\\\\ 2 \\\\end{pmatrix}", True),
        ("\\frac{\\pi}{4}", "\\\\boxed{\\\\frac{\\\\pi}{4}}", True), ("\\frac{\\pi}{4}", "\\\\boxed{\\\\frac{\\\\pi}{2}}", False),
        ("\\\\frac{3}{4}", "0.75", True),
    ],
    "number formats": [
        ("2500.75", "2,500.75", True), ("2500.75", "2500,75", True), ("0.25", "0,25", True), ("2500.75", "2.500,75", True),
        ("1.5", "1,5", True), ("2500", "2,500", True), ("2.5", "2,500", False), ("0.25", "0,26", False),
        ("1, 5", "1,5", True), ("\\{1, 5\\}", "1,5", True), ("1, 5", "1.5", False),
        ("12", "12 €", True), ("12", "€12", True), ("12", "12 EUR", True), ("12", "13 €", False),
        ("12", "12 m²", True), ("12", "12 m^2", True), ("12", "12\\text{ m}^2", True), ("12", "13 m²", False),
        ("12", "\\$12", True), ("12.5", "\\$12.50", True), ("12", "\\$12.01", False),
        ("25\\%", "25%", True), ("0.25", "25\\%", True), ("25", "2.5%", False),
        ("17.5\\%", "thus $\\frac{14}{80} \\times 100 \\%=17.5 \\%$ acid.", True),
        ("17\\%", "thus $\\frac{14}{80} \\times 100 \\%=17.5 \\%$ acid.", False),
    ],
}

PAIRS = [(pred, gold) for rows in CASES.values() for gold, pred, _ in rows]


@pytest.fixture(scope="module")
def verdicts_by_class(pool):
    verdicts = iter(pool.verify_batch(PAIRS, timeout=30.0))
    return {category: [next(verdicts) for _ in rows] for category, rows in CASES.items()}


@pytest.mark.parametrize("category", list(CASES))
def test_class_table(verdicts_by_class, category):
    """Every row of the class's table gets its expected verdict (all wrong rows listed on failure)."""
    rows = CASES[category]
    assert {expected for *_, expected in rows} == {True, False}
    wrong = [(gold, pred, verdict) for (gold, pred, expected), verdict in zip(rows, verdicts_by_class[category])
             if verdict.correct is not expected or verdict.status not in ("correct", "incorrect")]
    assert not wrong, wrong


def test_verdict_names_span_and_rule(pool):
    verdict = pool.verify("Janet earns 9 * 2 = 18.\nThe final answer is $18$. I hope it is correct.", "18")
    assert (verdict.extracted, verdict.rule, verdict.status) == ("18", "final_answer", "correct")
    assert pool.verify("Nothing to see here. " * 30, "1").rule is None   # long, no statement, no value
    assert pool.verify("Nothing to see here.", "1").rule == "whole"


HOSTILE = {
    "code after a cue": "The final answer is __import__('os').system('touch pwned').",
    "code in an escaped box": "\\\\boxed{open('pwned', 'w').write('x')}",
    "tower after a label": "Answer: $9^{9^{9^{9}}}$",
    "endless sum as the final display": "\\[ \\sum_{n=1}^{10^{9}} n^{n} \\]\nThat is all.",
    "code as the last value": "Then we run exec('import os') and get $__import__('os')$.",
}
TIMEOUT = 2.0


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_free_form_stays_inert_and_bounded(pool, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    verdict = pool.verify(HOSTILE[name], "1", timeout=TIMEOUT)
    assert time.monotonic() - start < TIMEOUT + 1.0, (name, verdict)
    assert not verdict.correct and verdict.status in ("incorrect", "unparseable", "timeout"), (name, verdict)
    assert list(tmp_path.iterdir()) == []
