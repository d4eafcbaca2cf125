"""Demonstration rows for the SFT tests (imported by the tests and by conftest)."""

from __future__ import annotations

import json
import random
from pathlib import Path


def make_demos(count: int, seed: int = 0) -> list[dict]:
    """``count`` rows shaped like ``satori synth`` output (id, source, problem, gold, kind, coat, prompt)."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
        product, total = a * b, a * b + c
        if index % 3 == 2:  # an attempt with a slip, a reflection that finds it, then a correct path
            coat = (f"<|continue|>First, {a} * {b} = {product + 1}.\n<|continue|>Then, {product + 1} + {c} = "
                    f"{total + 1}.\n<|reflect|>Check the first step: {a} * {b} is {product}, not {product + 1}."
                    f"\n<|explore|>Redo it: {a} * {b} = {product}, and {product} + {c} = {total}.\n"
                    f"<|continue|>The answer is \\boxed{{{total}}}.")
            kind = "explore"
        else:
            coat = (f"<|continue|>First, {a} * {b} = {product}.\n<|continue|>Then, {product} + {c} = {total}.\n"
                    f"<|reflect|>Check: {total} - {c} = {product} and {product} / {b} = {a}. Correct.\n"
                    f"<|continue|>The answer is \\boxed{{{total}}}.")
            kind = "correct"
        rows.append({"id": f"arith-{index}", "source": "arith", "problem": f"What is {a} * {b} + {c}?",
                     "gold": str(total), "kind": kind, "coat": coat, "prompt": "satori"})
    return rows


def write_demos(path: Path, count: int, seed: int = 0) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in make_demos(count, seed)))
    return path
