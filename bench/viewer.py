"""`satori view` at scale: build, size and (with a Chromium) browser timings of a page of many samples.

    python bench/viewer.py [--samples 50000]

Writes two checkpoints' eval samples (``--samples`` in all, ~420 characters of COAT each, every
problem once per checkpoint), builds their page and reports the build time, the page's size
against the samples files', and, when a headless Chromium is installed, the time from opening the
file URL to the first rendered page, the time of a filter change, and how many trajectories are in
the DOM (one page). Prints a table and writes ``bench/results/viewer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = "<|continue|>Multiply both sides by 12: 3(x + 2) = 4(2x - 1), so 3x + 6 = 8x - 4.\n"
REFLECT = "<|reflect|>Check: 3 * 2 + 6 = 12 and 8 * 2 - 4 = 12, so both sides agree.\n"
EXPLORE = "<|explore|>Instead, collect the x terms first: 6 + 4 = 8x - 3x, so 5x = 10.\n"


def write_samples(folder: Path, model: str, problems: int) -> Path:
    path = folder / model / "samples.jsonl"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(problems):
            correct = (i % 3 == 0) if model == "sft" else (i % 5 != 0)
            text = STEP * 3 + REFLECT + (EXPLORE if i % 4 == 0 else "") + f"The answer is \\boxed{{{i % 17}}}."
            handle.write(json.dumps({
                "key": json.dumps(["math500", f"q{i}", 0]), "model": model, "benchmark": "math500", "problem_id": f"q{i}",
                "sample": 0, "prompt": f"Solve the following math problem.\nProblem: Solve for x, case {i}.\n",
                "completion": text, "extracted": str(i % 17), "gold": "2", "correct": correct,
                "status": "correct" if correct else "incorrect", "tokens": 120, "finish_reason": "stop",
                "before_reflect": {"extracted": "2", "correct": i % 7 == 0, "status": "x"},
                "meta": {"subject": ["Algebra", "Geometry", "Number Theory"][i % 3], "level": i % 5 + 1}}) + "\n")
    return path


def browser_timings(page: Path) -> dict:
    from satori.viewer.headless import Browser, find_chromium

    if find_chromium() is None:
        return {"browser": None}
    change = """(() => { const t = performance.now(); const e = document.getElementById(%s); e.value = %s;
        e.dispatchEvent(new Event('change')); return performance.now() - t; })()"""
    with Browser() as browser:
        start = time.perf_counter()
        browser.open(page.as_uri())
        assert browser.evaluate("document.body.dataset.ready") == "1"
        opened = time.perf_counter() - start
        pairs = int(browser.evaluate("document.body.dataset.visible"))
        outcome_ms = browser.evaluate(change % ("'f-outcome'", "'01'"))
        changed = int(browser.evaluate("document.body.dataset.visible"))
        list_ms = browser.evaluate(change % ("'mode'", "'list'"))
        return {"browser": browser.evaluate("navigator.userAgent"), "open_to_first_page_s": round(opened, 2),
                "pairs": pairs, "pairs_sft_wrong_rl_right": changed,
                "filter_change_ms": round(outcome_ms, 1), "switch_to_list_ms": round(list_ms, 1),
                "trajectories_in_dom": browser.evaluate("document.querySelectorAll('.traj').length"),
                "errors": browser.errors()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000, help="samples in all (half per checkpoint)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "viewer.json"))
    args = parser.parse_args()
    from satori.viewer.page import write_page

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = [write_samples(folder, model, args.samples // 2) for model in ("sft", "rl")]
        start = time.perf_counter()
        table = write_page(paths, folder / "samples.html")
        build = time.perf_counter() - start
        result = {"samples": len(table.samples), "build_s": round(build, 2),
                  "samples_mb": round(sum(p.stat().st_size for p in paths) / 1e6, 1),
                  "page_mb": round((folder / "samples.html").stat().st_size / 1e6, 1),
                  "load_average": round(os.getloadavg()[0], 1), **browser_timings(folder / "samples.html")}
    for key, value in result.items():
        print(f"{key:28s} {value}")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
