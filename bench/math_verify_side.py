"""Math-Verify's verdicts for ``bench/grader_agreement.py``, run by the benchmark venv's Python.

    /work/trl-venv/bin/python bench/math_verify_side.py [TIMEOUT_S] < rows.jsonl > verdicts.jsonl

Reads ``{"completion", "gold"}`` rows, writes one ``{"correct", "extracted", "gold_parsed", "error"}``
row per input row, in order. ``TIMEOUT_S`` (default 5, Math-Verify's own) bounds each parse and
each comparison; a loaded machine needs more, as Math-Verify's limits are wall-clock alarms. The gold (a bare answer) is parsed inside ``\\boxed{}``, the completion
with Math-Verify's default extraction. Imports nothing from satori: Math-Verify is a benchmark
dependency only.
"""

from __future__ import annotations

import json
import sys

from math_verify import parse, verify


def grade(completion: str, gold: str, timeout: int) -> dict:
    gold_parsed = parse(gold if "\\boxed" in gold else "\\boxed{" + gold + "}", extraction_mode="first_match",
                        parsing_timeout=timeout)
    if not gold_parsed:
        return {"correct": False, "extracted": None, "gold_parsed": None, "error": "gold not parsed"}
    pred_parsed = parse(completion, parsing_timeout=timeout)
    extracted = str(pred_parsed[-1]) if pred_parsed else None
    return {"correct": bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout)), "extracted": extracted,
            "gold_parsed": str(gold_parsed[-1]), "error": None}


def main() -> None:
    timeout = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            result = grade(row["completion"], row["gold"], timeout)
        except Exception as exc:  # one bad row must not lose the others' verdicts
            result = {"correct": False, "extracted": None, "gold_parsed": None, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
