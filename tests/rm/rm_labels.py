"""Hand-written label files for the `satori rm` tests: an answer's last word says whether it is right."""

from __future__ import annotations

import json
from pathlib import Path


def write_labels(path: Path, problems: int, offset: int = 0) -> Path:
    """``problems`` label rows of sums, each with 2 correct samples (ending "Right.") and 2 incorrect ("Wrong.")."""
    rows = []
    for i in range(offset, offset + problems):
        a, b = i % 7 + 1, i // 7 + 2
        good = [f"<|continue|>{a} + {b} = {a + b}.\n<|reflect|>Right.", f"<|continue|>\\boxed{{{a + b}}} Right."]
        bad = [f"<|continue|>{a} + {b} = {a + b + 1}.\n<|reflect|>Wrong.", f"<|continue|>\\boxed{{{a * b}}} Wrong."]
        samples = [{"text": t, "correct": True, "status": "correct", "answer": str(a + b), "finish_reason": "stop"}
                   for t in good] + [{"text": t, "correct": False, "status": "incorrect", "answer": None,
                                      "finish_reason": "stop"} for t in bad]
        rows.append({"id": f"sum-{i}", "question": f"What is {a} + {b}?", "gold": str(a + b),
                     "samples": samples[::2] + samples[1::2]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
