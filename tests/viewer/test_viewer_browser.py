"""The viewer page in a real headless Chromium, opened from a file URL: it loads without errors, each
filter leaves the count of trajectories computed here in Python, one page is rendered at a time (also
with 50k samples), and completions holding scripts, event handlers and broken tags show as text and
run nothing. Skips when no Chromium is installed
(``apt-get install -y --no-install-recommends chromium-headless-shell``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from satori.viewer.headless import Browser, find_chromium
from satori.viewer.page import write_page

pytestmark = [pytest.mark.slow,  # starts a browser
              pytest.mark.skipif(find_chromium() is None, reason="no Chromium on PATH: apt-get install -y "
                                 "--no-install-recommends chromium-headless-shell")]

PAYLOADS = [
    "<script>window.__pwned = 1; document.title = 'pwned';</script>",
    "<img src=x onerror=\"window.__pwned = 2; document.title = 'pwned'\">",
    "</script><script>window.__pwned = 3; document.title = 'pwned';</script>",
    "<svg onload=\"window.__pwned = 4\"><b>broken <i>tags <!-- & &lt; </div></textarea>",
    "<|continue|><style>body { display: none }</style><iframe srcdoc=\"<script>parent.__pwned = 5</script>\">",
]


@pytest.fixture(scope="module")
def browser():
    with Browser(width=1300, height=900) as b:
        yield b


def set_control(browser: Browser, element: str, value: str) -> int:
    """Set a control as a user would (its change/input event fires); returns the visible count."""
    browser.evaluate(f"""(() => {{ const e = document.getElementById({json.dumps(element)});
        e.value = {json.dumps(value)};
        e.dispatchEvent(new Event(e.tagName === 'INPUT' ? 'input' : 'change')); }})()""")
    return visible(browser)


def visible(browser: Browser) -> int:
    return int(browser.evaluate("document.body.dataset.visible"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def eval_rows(model: str, n: int) -> list[dict]:
    """``n`` graded samples with a pattern of verdicts, reflections and subjects known to the test."""
    rows = []
    for i in range(n):
        correct = (i % 3 == 0) if model == "sft" else (i % 2 == 0)
        reflect, explore = i % 4 != 0, i % 5 == 0
        text = "<|continue|>step" + ("<|reflect|>check" if reflect else "") + ("<|explore|>other" if explore else "")
        rows.append({"key": json.dumps(["math500", f"q{i}", 0]), "model": model, "benchmark": "math500",
                     "problem_id": f"q{i}", "sample": 0, "prompt": f"Problem: {i}?", "completion": text,
                     "extracted": "1", "gold": "1", "correct": correct, "status": "correct" if correct else "incorrect",
                     "tokens": 5, "finish_reason": "stop",
                     "before_reflect": {"extracted": "1", "correct": i % 7 == 0, "status": "x"} if reflect else None,
                     "meta": {"subject": ["Algebra", "Geometry", "Precalculus"][i % 3], "level": i % 5 + 1}})
    return rows


@pytest.fixture(scope="module")
def eval_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    rows = {model: eval_rows(model, 60) for model in ("sft", "rl")}
    paths = [write_jsonl(root / model / "samples.jsonl", rows[model]) for model in rows]
    write_page(paths, root / "page.html")
    return root / "page.html", rows


def test_filters_change_the_count_as_computed_here(browser, eval_page):
    page, rows = eval_page
    browser.open(page.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "1" and browser.errors() == []
    assert browser.evaluate("document.getElementById('mode').value") == "compare"
    assert visible(browser) == 60                                              # pairs, SFT left and RL right
    sft, rl = rows["sft"], rows["rl"]
    assert set_control(browser, "f-outcome", "01") == sum(not a["correct"] and b["correct"] for a, b in zip(sft, rl))
    assert set_control(browser, "f-verdict", "correct") == sum(not a["correct"] and b["correct"] for a, b in zip(sft, rl))
    assert set_control(browser, "f-side", "both") == set_control(browser, "f-side", "left") == 0
    set_control(browser, "f-side", "either")
    set_control(browser, "f-outcome", "")
    set_control(browser, "f-verdict", "")
    assert set_control(browser, "mode", "list") == 120
    both = sft + rl
    assert set_control(browser, "f-verdict", "incorrect") == sum(not r["correct"] for r in both)
    assert set_control(browser, "f-explore", "yes") == sum(not r["correct"] and "<|explore|>" in r["completion"]
                                                           for r in both)
    set_control(browser, "f-explore", "")
    set_control(browser, "f-verdict", "")
    assert set_control(browser, "f-reflect", "no") == sum("<|reflect|>" not in r["completion"] for r in both)
    set_control(browser, "f-reflect", "")
    assert set_control(browser, "f-sc", "incorrect->correct") == sum(
        r["before_reflect"] is not None and not r["before_reflect"]["correct"] and r["correct"] for r in both)
    assert set_control(browser, "f-sc", "correct->incorrect") == sum(
        r["before_reflect"] is not None and r["before_reflect"]["correct"] and not r["correct"] for r in both)
    assert set_control(browser, "f-sc", "none") == sum(r["before_reflect"] is None for r in both)
    set_control(browser, "f-sc", "")
    assert set_control(browser, "g-subject", "Geometry") == sum(r["meta"]["subject"] == "Geometry" for r in both)
    assert set_control(browser, "g-level", "2") == sum(r["meta"] == {"subject": "Geometry", "level": 2} for r in both)
    set_control(browser, "g-subject", "")
    set_control(browser, "g-level", "")
    assert set_control(browser, "f-source", "1") == 60
    assert set_control(browser, "f-text", "OTHER") == sum("other" in r["completion"] for r in rl)
    assert browser.errors() == []


def test_one_page_is_rendered_at_a_time(browser, eval_page):
    page, _ = eval_page
    browser.open(page.as_uri())
    set_control(browser, "mode", "list")
    set_control(browser, "page-size", "10")
    assert browser.evaluate("document.querySelectorAll('.traj').length") == 10
    assert browser.evaluate("document.getElementById('pageinfo').textContent") == "page 1 of 12"
    browser.evaluate("document.getElementById('next').click()")
    assert browser.evaluate("document.getElementById('pageinfo').textContent") == "page 2 of 12"
    assert browser.evaluate("document.querySelector('.traj').dataset.index") == "10"


def test_restart_prefix_and_ppo_step_filters(browser, tmp_path):
    rows = [{"step": s, "problem_id": f"p{s}-{k}", "question": "Compute 2 + 2.", "gold": "4",
             "prompt_kind": "restart" if k else "plain", "reflect_status": [0, 1, -1][k],
             "prefix": "<|continue|>2 + 2 = 5.<|reflect|>" if k else "", "completion": "Check: 2 + 2 = 4. \\boxed{4}",
             "extracted": "4", "status": "correct", "correct": True, "reward": {"reward/total": 0.5},
             "tokens": 9, "finish_reason": "stop"} for s in range(1, 7) for k in range(3)]
    write_page([write_jsonl(tmp_path / "rl1" / "rollout_samples.jsonl", rows)], tmp_path / "page.html")
    browser.open((tmp_path / "page.html").as_uri())
    assert visible(browser) == 18
    assert set_control(browser, "f-restart", "from incorrect") == 6
    assert set_control(browser, "f-step-min", "3") == 4
    assert set_control(browser, "f-step-max", "4") == 2
    card = "document.querySelector('.traj')"
    assert browser.evaluate(f"{card}.querySelector('.prefix .step-reflect') !== null")
    assert browser.evaluate(f"{card}.querySelector('.policy .step').className") == "step step-reflect"
    assert "not written by the policy" in browser.evaluate(f"{card}.querySelector('.prefix').textContent")
    assert "reward/total 0.500" in browser.evaluate(f"{card}.textContent")


def test_a_malicious_completion_shows_as_text_and_runs_nothing(browser, tmp_path):
    rows = [{"key": json.dumps(["b", f"q{i}", 0]), "model": "sft", "benchmark": "b", "problem_id": f"q{i}",
             "sample": 0, "prompt": payload, "completion": "<|continue|>" + payload, "extracted": payload,
             "gold": payload, "correct": False, "status": "incorrect", "tokens": 1, "finish_reason": "stop",
             "before_reflect": None, "meta": {"subject": payload}} for i, payload in enumerate(PAYLOADS)]
    write_page([write_jsonl(tmp_path / "sft" / "samples.jsonl", rows)], tmp_path / "page.html", title="viewer")
    browser.open((tmp_path / "page.html").as_uri())
    browser.evaluate("new Promise(done => setTimeout(done, 300))")        # room for a late onerror / onload
    assert browser.evaluate("window.__pwned === undefined && parent.__pwned === undefined")
    assert browser.evaluate("document.title") == "viewer"
    assert browser.evaluate("document.body.querySelectorAll('img, svg, iframe, style, b, i, textarea').length") == 0
    texts = browser.evaluate("Array.from(document.querySelectorAll('.traj'), t => t.textContent)")
    assert len(texts) == len(PAYLOADS)
    for payload, text in zip(PAYLOADS, texts):
        assert payload.replace("<|continue|>", "") in text
    assert visible(browser) == len(PAYLOADS) and browser.errors() == []

    # The same payloads written into a page as markup do run: the checks above would catch an injection.
    control = tmp_path / "control.html"
    control.write_text("<html><head><title>viewer</title></head><body>" + "".join(PAYLOADS) + "</body></html>")
    browser.open(control.as_uri())
    browser.evaluate("new Promise(done => setTimeout(done, 300))")
    assert browser.evaluate("window.__pwned") is not None and browser.evaluate("document.title") == "pwned"


def test_fifty_thousand_samples_load_and_render_one_page(browser, tmp_path):
    completion = "<|continue|>" + "7 + 8 = 15, carry the one. " * 6 + "<|reflect|>Check. \\boxed{15}"
    paths = [write_jsonl(tmp_path / model / "samples.jsonl",
                         [{"key": json.dumps(["gsm8k", f"q{i}", 0]), "model": model, "benchmark": "gsm8k",
                           "problem_id": f"q{i}", "sample": 0, "prompt": f"Problem {i}", "completion": completion,
                           "extracted": "15", "gold": "15", "correct": (i % 3 == 0) != (model == "rl"),
                           "status": "x", "tokens": 60, "finish_reason": "stop", "before_reflect": None,
                           "meta": {}} for i in range(25_000)]) for model in ("sft", "rl")]
    write_page(paths, tmp_path / "big.html")
    start = time.perf_counter()
    browser.open((tmp_path / "big.html").as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "1"
    load_seconds = time.perf_counter() - start
    assert visible(browser) == 25_000
    assert browser.evaluate("document.querySelectorAll('.pair').length") == 25
    start = time.perf_counter()
    assert set_control(browser, "f-outcome", "01") == sum(i % 3 != 0 for i in range(25_000))   # SFT wrong, RL right
    filter_seconds = time.perf_counter() - start
    assert set_control(browser, "mode", "list") == 50_000
    assert browser.evaluate("document.querySelectorAll('.traj').length") == 25
    assert load_seconds < 30 and filter_seconds < 10, (load_seconds, filter_seconds)
