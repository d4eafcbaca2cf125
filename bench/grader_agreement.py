"""Agreement of satori's grader with Math-Verify on (completion, gold) rows, every disagreement listed.

    python bench/grader_agreement.py ROWS.jsonl [MORE.jsonl ...] [--limit N]
    python bench/grader_agreement.py /work/exp/*/eval*/*/samples.jsonl      # saved eval samples
    python bench/grader_agreement.py --references 100  # reference solutions of the benchmarks (real free text)
    python bench/grader_agreement.py --wrapped 50      # benchmark answers written into free-form sentences
    python bench/grader_agreement.py --generate 150    # SmolLM2-135M-Instruct (GGUF) on GSM8K + MATH500

Rows are JSON objects with ``completion`` (or ``pred``) and ``gold`` (eval ``samples.jsonl`` rows
qualify); a GSM8K worked answer as gold is reduced to its ``####`` number, a list gold is joined
with commas. ``--references N`` takes the first N reference solutions of each benchmark file in
``../shared/benchmarks`` (MATH500 and AIME 2024 as written, boxes and all; OlympiadBench proofs,
which state their answer in prose or not at all; GSM8K worked answers without their ``#### n``
line, so the last sentence states the answer), every other row graded against the next problem's
gold (a wrong one). ``--wrapped N`` takes the first N answers of GSM8K and MATH500 and writes each into
one of a few free-form templates, every other row with the next problem's answer (a wrong one).
``--generate N`` runs ``satori eval`` (transformers engine, the model's chat template, greedy; as
``configs/eval_smollm2.yaml``) on the first N problems of each benchmark and grades its samples.

satori grades in this process; Math-Verify, a benchmark-only dependency, grades in a subprocess
of another venv's Python (``--math-verify-python``, running ``bench/math_verify_side.py``).
Prints the agreement, a table per kind of row, the classes of disagreement (direction, satori's
extraction rule, whether both read the same span) and every disagreement with the completion's
tail; writes ``bench/results/grader_agreement.json`` (disagreements by source, without the text).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and bench/eval.py would shadow the `eval` package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
MATH_VERIFY_PYTHON = "/work/trl-venv/bin/python"
TAIL_CHARS = 300
TEMPLATES = (
    "Let me work through it step by step.\nThe final answer is ${a}$. I hope it is correct.",
    "Combining the two cases gives the result.\n\n**Answer:** {a}",
    "We simplify each term and add them up, so the answer is {a}.",
    "Therefore, the final answer is:\n\\[\n{a}\n\\]",
    "Collecting terms, we conclude that\n$$\n{a}\n$$\nThis completes the solution.",
    "Putting everything together, the result is \\({a}\\).",
    "The answer is $\\boxed{{a}}$.",
)


def read_rows(paths: list[Path], limit: int | None) -> list[dict]:
    """``{"completion", "gold", "source"}`` rows from JSONL files (first ``limit`` rows of each)."""
    rows = []
    for path in paths:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for number, line in enumerate(lines[:limit], start=1):
            row = json.loads(line)
            completion = row.get("completion", row.get("pred"))
            if completion is None or "gold" not in row:
                raise SystemExit(f"{path}:{number}: a row needs 'completion' (or 'pred') and 'gold'")
            rows.append({"completion": str(completion), "gold": bare_gold(row["gold"]),
                         "source": f"{path}:{number}", "kind": f"samples {path.parent.name}/{path.name}",
                         "benchmark": row.get("benchmark")})
    return rows


def bare_gold(gold: object) -> str:
    if isinstance(gold, list):
        return ", ".join(str(g).strip("$") for g in gold)
    gold = str(gold)
    return gold.rsplit("####", 1)[1].strip() if "####" in gold else gold.strip()


def first_problems(name: str, n: int) -> list[dict]:
    lines = (BENCHMARKS / name).read_text(encoding="utf-8").splitlines()[:n]
    return [json.loads(line) for line in lines]


REFERENCES = (  # file, solution field, gold field
    ("math500.jsonl", "solution", "answer"), ("gsm8k_test.jsonl", "answer", "answer"),
    ("aime24.jsonl", "solution", "answer"), ("olympiadbench.jsonl", "solution", "final_answer"),
)


def reference_rows(n: int) -> list[dict]:
    """Reference solutions as completions; odd rows are graded against the next problem's gold."""
    rows = []
    for name, text_key, gold_key in REFERENCES:
        problems = first_problems(name, n + 1)
        golds = [bare_gold(problem[gold_key]) for problem in problems]
        for i in range(min(n, len(problems) - 1)):
            text = problems[i][text_key]
            text = text[0] if isinstance(text, list) else text
            if "####" in text:   # GSM8K: the worked answer without its final "#### n" line
                text = text.rsplit("####", 1)[0].rstrip()
            wrong = i % 2 == 1 and golds[i + 1] != golds[i]
            rows.append({"completion": text, "gold": golds[i + 1] if wrong else golds[i],
                         "source": f"{name}:{i + 1} (reference, {'wrong' if wrong else 'its own'} gold)",
                         "kind": f"{name} reference, {'wrong' if wrong else 'own'} gold",
                         "benchmark": name.split("_")[0].split(".")[0]})
    return rows


def wrapped_rows(n: int) -> list[dict]:
    """GSM8K and MATH500 answers in free-form sentences; odd rows carry the next problem's answer."""
    rows = []
    for name, key in (("gsm8k_test.jsonl", "answer"), ("math500.jsonl", "answer")):
        golds = [bare_gold(problem[key]) for problem in first_problems(name, n + 1)]
        for i in range(min(n, len(golds) - 1)):
            given = golds[i + 1] if i % 2 else golds[i]
            rows.append({"completion": TEMPLATES[i % len(TEMPLATES)].replace("{a}", given), "gold": golds[i],
                         "source": f"{name}:{i + 1} (wrapped, {'wrong' if i % 2 else 'right'} answer)",
                         "kind": f"{name} wrapped, {'wrong' if i % 2 else 'right'} answer",
                         "benchmark": name.split("_")[0].split(".")[0]})
    return rows


def generated_rows(n: int, model: str, max_new_tokens: int, out: Path) -> list[dict]:
    """Greedy completions of ``model`` on the first ``n`` GSM8K and MATH500 problems (``satori eval``)."""
    from satori.config import load_config

    from eval.config import EvalConfig
    from eval.harness import run_eval

    config = load_config(EvalConfig, None, [
        f"models=[{{name: agreement, path: '{model}'}}]", "benchmarks=[gsm8k, math500]", f"data_dir='{BENCHMARKS}'",
        f"limit={n}", "engine=hf", "template=auto", f"sampling.max_new_tokens={max_new_tokens}", f"run_dir='{out}'"])
    run_eval(config)
    return read_rows([out / "agreement" / "samples.jsonl"], None)


def satori_verdicts(rows: list[dict], workers: int, timeout: float) -> list[dict]:
    from satori.grading import verify_batch

    verdicts = verify_batch([(row["completion"], row["gold"]) for row in rows], workers=workers, timeout=timeout)
    failed = [v.reason for v in verdicts if v.reason.startswith(("verifier failure", "verifier worker died"))]
    if failed:
        raise SystemExit(f"satori's verifier failed on {len(failed)} rows (first: {failed[0]}); no agreement to report")
    return [{"correct": v.correct, "status": v.status, "extracted": v.extracted, "rule": v.rule, "reason": v.reason}
            for v in verdicts]


def math_verify_verdicts(rows: list[dict], python: str, timeout: float) -> tuple[list[dict], str]:
    """Math-Verify's verdicts (a subprocess of ``python``, ``timeout`` s per parse and comparison) and its version."""
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('math-verify'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    payload = "".join(json.dumps({"completion": r["completion"], "gold": r["gold"]}) + "\n" for r in rows)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # nothing of satori on its path
    result = subprocess.run([python, str(ROOT / "bench" / "math_verify_side.py"), str(max(1, round(timeout)))],
                            input=payload, capture_output=True, text=True, timeout=120 + 3 * timeout * len(rows), env=env)
    if result.returncode != 0:
        raise SystemExit(f"the Math-Verify side failed ({python}):\n{result.stderr[-2000:]}")
    verdicts = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(verdicts) != len(rows):
        raise SystemExit(f"the Math-Verify side returned {len(verdicts)} verdicts for {len(rows)} rows")
    return verdicts, version


def disagreement_class(satori: dict, math_verify: dict) -> str:
    """Direction, satori's status and extraction rule, and whether both graders read the same span."""
    direction = "satori accepts, Math-Verify rejects" if satori["correct"] else "Math-Verify accepts, satori rejects"
    same = _squash(satori["extracted"]) == _squash(math_verify["extracted"])
    return f"{direction} | satori {satori['status']} by {satori['rule']} | {'same' if same else 'different'} span"


def source_table(rows: list[dict], satori: list[dict], math_verify: list[dict]) -> dict[str, dict]:
    """Per kind of row (input file; benchmark, source and gold): rows, each grader's accepts, agreement."""
    table: dict[str, dict] = {}
    for row, s, m in zip(rows, satori, math_verify):
        t = table.setdefault(row["kind"], {"rows": 0, "satori_correct": 0, "math_verify_correct": 0, "agree": 0})
        t["rows"] += 1
        t["satori_correct"] += s["correct"]
        t["math_verify_correct"] += m["correct"]
        t["agree"] += s["correct"] == m["correct"]
    for t in table.values():
        t["agreement"] = t["agree"] / t["rows"]
    return table


def _squash(text: str | None) -> str | None:
    return None if text is None else "".join(text.split()).strip("$.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="JSONL files of (completion, gold) rows")
    parser.add_argument("--limit", type=int, help="first N rows of each input file")
    parser.add_argument("--references", type=int, default=0, help="add N reference solutions of each benchmark")
    parser.add_argument("--wrapped", type=int, default=0, help="add N wrapped answers of each benchmark")
    parser.add_argument("--generate", type=int, default=0, help="add completions on N problems of each benchmark")
    parser.add_argument("--model", default="smollm2-135m-gguf", help="model for --generate (default %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--generate-out", type=Path, default=ROOT / "runs" / "grader_agreement")
    parser.add_argument("--math-verify-python", default=MATH_VERIFY_PYTHON)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds per comparison for both graders (default %(default)s: a loaded machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "grader_agreement.json")
    args = parser.parse_args()
    rows = read_rows(args.inputs, args.limit)
    if args.references:
        rows += reference_rows(args.references)
    if args.wrapped:
        rows += wrapped_rows(args.wrapped)
    if args.generate:
        rows += generated_rows(args.generate, args.model, args.max_new_tokens, args.generate_out)
    if not rows:
        raise SystemExit("no rows: give input files, --references N, --wrapped N or --generate N")
    satori = satori_verdicts(rows, args.workers, args.timeout)
    math_verify, version = math_verify_verdicts(rows, args.math_verify_python, args.timeout)
    disagreements = []
    for i, (row, s, m) in enumerate(zip(rows, satori, math_verify)):
        if s["correct"] != m["correct"]:
            disagreements.append({"index": i, "class": disagreement_class(s, m), **row, "satori": s, "math_verify": m})
    # The JSON names each row's source instead of holding its text: benchmark text stays out of the repo.
    listed = [{k: v for k, v in d.items() if k != "completion"} for d in disagreements]
    classes = Counter(d["class"] for d in disagreements)
    agreement = 1 - len(disagreements) / len(rows)
    for d in disagreements:
        tail = d["completion"][-TAIL_CHARS:].replace("\n", "\\n")
        print(f"--- #{d['index']} {d['source']}\n  gold: {d['gold']!r}\n"
              f"  satori: {d['satori']['status']} by {d['satori']['rule']}: {d['satori']['extracted']!r}\n"
              f"  Math-Verify: {'correct' if d['math_verify']['correct'] else 'incorrect'}: "
              f"{d['math_verify']['extracted']!r}{' (' + d['math_verify']['error'] + ')' if d['math_verify']['error'] else ''}\n"
              f"  completion tail: ...{tail}")
    print(f"\nrows {len(rows)}  agreement {agreement:.2%}  disagreements {len(disagreements)}  "
          f"(satori correct {sum(s['correct'] for s in satori)}, Math-Verify {version} correct "
          f"{sum(m['correct'] for m in math_verify)})")
    for name, count in classes.most_common():
        print(f"  {count:>4}  {name}")
    table = source_table(rows, satori, math_verify)
    print(f"\n{'rows of':<40} {'rows':>5} {'satori':>7} {'M-V':>5} {'agree':>7}")
    for name, t in table.items():
        print(f"{name:<40} {t['rows']:>5} {t['satori_correct']:>7} {t['math_verify_correct']:>5} {t['agreement']:>7.1%}")
    rules = Counter(s["rule"] for s in satori)
    print("satori extraction rules: " + ", ".join(f"{rule}={count}" for rule, count in rules.most_common()))
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {
        "command": " ".join(["python", "bench/grader_agreement.py", *sys.argv[1:]]), "rows": len(rows),
        "agreement": agreement, "satori_correct": sum(s["correct"] for s in satori),
        "math_verify_correct": sum(m["correct"] for m in math_verify), "math_verify_version": version,
        "sources": table, "classes": dict(classes.most_common()), "satori_rules": dict(rules.most_common()),
        "disagreements": listed})


if __name__ == "__main__":
    main()
