"""`satori eval`: benchmark one or more checkpoints and write a side-by-side report.

    satori eval configs/eval_math.yaml models='[{name: rl, path: runs/rl/final}]'
    satori eval --model base=smollm2-135m-gguf --model sft=runs/sft/final \\
        --benchmarks gsm8k,math500 --data-dir ../shared/benchmarks --limit 20 --max-new-tokens 512

A pipeline YAML is accepted too: its ``eval:`` section is read. Flags override the file;
``key=value`` arguments override both (see ``eval.config.EvalConfig`` for every key).
"""

from __future__ import annotations

import argparse
import json

from satori.config import ConfigError, format_config
from satori.stage_cli import load_stage_config, reports_errors

from eval.config import EvalConfig
from eval.protocol import PROTOCOLS

HELP = "benchmark checkpoints on math sets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="YAML config (an eval config or a pipeline config with eval:)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. sampling.n=8")
    parser.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                        help="checkpoint folder, hub name, .gguf file or packaged model (repeatable)")
    parser.add_argument("--benchmarks",
                        help="comma-separated names, e.g. gsm8k,math500,procedural:arith,procedural:linear:2")
    parser.add_argument("--data-dir", help="folder holding the benchmarks' usual local files")
    parser.add_argument("--file", action="append", default=[], metavar="BENCHMARK=PATH",
                        help="local file (or hub name) for one benchmark (repeatable)")
    parser.add_argument("--limit", type=int, help="first N problems of each benchmark")
    parser.add_argument("--n", type=int, help="samples per problem (needs --temperature > 0 when > 1)")
    parser.add_argument("--temperature", type=float, help="0 = greedy")
    parser.add_argument("--k", help="comma-separated k for pass@k / maj@k (each <= n)")
    parser.add_argument("--engine", choices=["hf", "vllm"])
    parser.add_argument("--template", help="satori | chat | auto | a string containing {question}")
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS),
                        help="satori-paper: the paper's chat prompt, greedy, 4096 new tokens, last \\boxed{} (eval.protocol)")
    parser.add_argument("--out", metavar="RUN_DIR", help="output folder (sets run_dir)")
    parser.add_argument("--rerank", metavar="MODEL", help="outcome reward model folder (satori rm): also report "
                        "ORM best-of-n and ORM-weighted majority vote (needs --n >= 2)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def flag_overrides(args: argparse.Namespace) -> list[str]:
    """The flags as ``key=value`` overrides (applied before the explicit ones)."""
    overrides = []
    if args.model:
        overrides.append("models=" + json.dumps([parse_model_flag(m) for m in args.model]))
    if args.benchmarks:
        overrides.append("benchmarks=" + json.dumps([b.strip() for b in args.benchmarks.split(",") if b.strip()]))
    if args.file:
        files = dict(parse_pair(item, "--file", "BENCHMARK=PATH") for item in args.file)
        overrides.append("files=" + json.dumps(files))
    if args.k:
        overrides.append("ks=" + json.dumps(parse_ks(args.k)))
    simple = {"data_dir": args.data_dir, "limit": args.limit, "sampling.n": args.n,
              "sampling.temperature": args.temperature, "engine": args.engine, "template": args.template,
              "sampling.max_new_tokens": args.max_new_tokens, "run_dir": args.out, "protocol": args.protocol,
              "rerank": args.rerank}
    overrides += [f"{key}={json.dumps(value)}" for key, value in simple.items() if value is not None]
    if args.no_progress:
        overrides.append("progress=false")
    return overrides


def parse_model_flag(text: str) -> dict[str, str]:
    """``"sft=runs/sft"`` -> name and path; a bare path gets its last component as name."""
    name, sep, path = text.partition("=")
    if sep and name and "/" not in name:
        return {"name": name, "path": path}
    return {"path": text}


def parse_ks(text: str) -> list[int]:
    """``"1,4"`` -> ``[1, 4]``."""
    try:
        return [int(k) for k in text.split(",")]
    except ValueError:
        raise ConfigError(f"--k {text!r} must be comma-separated whole numbers, e.g. 1,4") from None


def parse_pair(text: str, flag: str, shape: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise ConfigError(f"{flag} {text!r} must look like {shape}")
    return key, value


@reports_errors("eval", FileNotFoundError)
def run(args: argparse.Namespace) -> int:
    config = load_stage_config(EvalConfig, args, section="eval", flag_overrides=flag_overrides(args))
    print(format_config(config), end="")
    from eval.harness import run_eval
    from eval.report import markdown_table

    results = run_eval(config)
    print(markdown_table(results))
    print(f"wrote {config.run_dir}/summary.json, table.md, chart.png, samples.html and <model>/samples.jsonl")
    return 0
