"""Evaluation throughput on CPU: problems per minute with the transformers and vLLM engines.

    python bench/eval.py                                   # tiny model built in-process
    python bench/eval.py --model smollm2-135m-gguf --problems 16 --max-new-tokens 128

Times the harness's own path (prompt, generate, grade) over GSM8K problems, greedy, after
the engine has started (start-up is reported separately). Prints a table and writes
``bench/results/eval.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would shadow the `eval` package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


def tiny_checkpoint(folder: Path) -> str:
    """Save a tiny Qwen2 model and tokenizer (head size 64) into ``folder``."""
    from satori.tiny import build_model, build_tokenizer

    tokenizer = build_tokenizer([f"{a} + {b} = {a + b}" for a in range(30) for b in range(30)], vocab_size=512)
    build_model(tokenizer, hidden_size=128, num_layers=2, num_heads=2).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def measure(engine_name: str, model: str, args: argparse.Namespace, work: Path) -> dict:
    from satori.config import load_config
    from satori.grading import VerifierPool

    from eval.config import EvalConfig
    from eval.harness import generate_and_grade, load_benchmarks, make_pending, open_model

    config = load_config(EvalConfig, None, [
        f"models=[{{name: bench, path: '{model}'}}]", "benchmarks=[gsm8k]", f"data_dir='{args.data_dir}'",
        f"limit={args.problems}", f"engine={engine_name}", f"sampling.max_new_tokens={args.max_new_tokens}",
        f"batch_size={args.batch_size}", f"template={args.template}", "progress=false",
        f"vllm.kv_cache_gib={args.kv_cache_gib}"])
    problems = load_benchmarks(config)["gsm8k"]
    start = time.perf_counter()
    tokenizer, build_engine = open_model(config.models[0], config, work / engine_name)
    pending = [make_pending("gsm8k", p, tokenizer, config.template, [0]) for p in problems]
    engine = build_engine(max(len(p.prompt_ids) for p in pending) + args.max_new_tokens)
    startup = time.perf_counter() - start
    rows = []
    with VerifierPool(workers=2, timeout=5.0) as grader:
        grader.verify_batch([("1", "1")])            # workers started before timing
        start = time.perf_counter()
        for i in range(0, len(pending), args.batch_size):
            rows += generate_and_grade(engine, pending[i: i + args.batch_size], config, grader, "bench")
        seconds = time.perf_counter() - start
    engine.close()
    tokens = sum(r["tokens"] for r in rows)
    return {"engine": engine_name, "problems": len(rows), "startup_s": round(startup, 1),
            "seconds": round(seconds, 2), "problems_per_min": round(60 * len(rows) / seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1), "mean_tokens": round(tokens / len(rows), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint folder, .gguf file or packaged name (default: tiny)")
    parser.add_argument("--engines", default="hf,vllm")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--template", default="satori")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "benchmarks"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "eval.json"))
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="satori-bench-eval-") as tmp:
        work = Path(tmp)
        model = args.model or tiny_checkpoint(work / "tiny")
        results = [measure(name, model, args, work) for name in args.engines.split(",")]
    print(f"model: {args.model or 'tiny (in-process)'}, {args.problems} GSM8K problems, greedy, "
          f"max {args.max_new_tokens} new tokens, batch {args.batch_size}, {os.cpu_count()} CPUs")
    columns = ["engine", "problems", "startup_s", "seconds", "problems_per_min", "tokens_per_s", "mean_tokens"]
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(str(row[c]) for c in columns))
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {"model": args.model or "tiny", "problems": args.problems,
                                 "load_average_1min_at_end": round(os.getloadavg()[0], 1),
                                 "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
                                 "results": results})


if __name__ == "__main__":
    main()
