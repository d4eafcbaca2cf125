"""SFT training throughput on CPU: tokens/s and peak memory for the tiny model and the 135M model.

    python bench/sft.py                              # both models
    python bench/sft.py --models tiny --steps 20

Demonstrations come from the procedural synthesis (``configs/synth_procedural.yaml``). Each model
trains in its own child process (so peak memory is its own) through the real trainer: a few
warm-up optimizer steps, then ``--steps`` timed ones. Tokens are real tokens (prompt + response,
padding excluded) through forward, backward and the AdamW step. The compute bound is what the
machine's float32 matrix products sustain (a timed 1024x1024 matmul on the same threads) over the
``6 N`` FLOPs a token costs in training (N parameters: forward 2N, backward 4N); ``share_of_bound``
is the measured tokens/s over that bound. ``load_s`` is the first model load (for a GGUF source: the
conversion into the cache, unless already cached) and ``reload_s`` a second load of the same source.
Prints a table and writes ``bench/results/sft.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = {"tiny": 1, "smollm2-135m": 2}  # a model as small as the tiny one runs fastest on one thread
MODELS = {
    "tiny": ["model.source=tiny", "data.max_length=384", "train.batch_size=8"],
    "smollm2-135m": ["model.source=smollm2-135m-gguf", "data.template=chat", "data.max_length=512",
                     "train.batch_size=4"],
}


def make_demos(folder: Path, count: int) -> Path:
    from data_synthesis.cli import synthesize
    from data_synthesis.config import SynthConfig
    from satori.config import load_config

    config = load_config(SynthConfig, ROOT / "configs" / "synth_procedural.yaml",
                         [f"run_dir={folder}", f"source.procedural.n={count}"])
    synthesize(config)
    return folder / "demos.jsonl"


def matmul_flops(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Float32 FLOP/s of a ``size`` square matmul on ``threads`` threads (best of three timings)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 * repeats / best


def measure(model: str, demos: Path, steps: int, warmup: int, threads: int, run_dir: Path) -> dict:
    """Train ``warmup + steps`` steps of ``model`` in this process; tokens/s over the timed steps."""
    from satori.config import load_config
    from train.sft.config import SFTConfig
    from train.sft.trainer import SFTTrainer

    config = load_config(SFTConfig, None, [
        *MODELS[model], f"run_dir={run_dir}", f"data.path={demos}", "data.packing=true", "data.val_size=8",
        f"max_steps={warmup + steps}", f"threads={threads}", "tracking.tensorboard=false"])
    started = time.perf_counter()
    trainer = SFTTrainer(config, progress=False)
    load_s = time.perf_counter() - started
    for _ in range(warmup):
        trainer.train_step()
    tokens = response_tokens = 0.0
    started = time.perf_counter()
    for _ in range(steps):
        metrics = trainer.train_step()
        tokens += metrics["perf/tokens_per_s"] * metrics["perf/step_s"]
        response_tokens += metrics["data/response_tokens"]
    elapsed = time.perf_counter() - started
    parameters = sum(p.numel() for p in trainer.model.parameters())
    reload_s = None
    if config.model.source != "tiny":
        from satori.models import load_model_and_tokenizer

        started = time.perf_counter()
        load_model_and_tokenizer(config.model.source)
        reload_s = round(time.perf_counter() - started, 2)
    flops = matmul_flops(threads)
    bound = flops / (6 * parameters)
    return {"model": model, "parameters": parameters, "threads": threads, "steps": steps,
            "sequences_per_step": config.train.batch_size * config.train.grad_accum,
            "max_length": config.data.max_length, "load_s": round(load_s, 2), "reload_s": reload_s,
            "matmul_gflops": round(flops / 1e9, 1), "bound_tokens_per_s": round(bound, 1),
            "share_of_bound": round(tokens / elapsed / bound, 3), "tokens_per_s": round(tokens / elapsed, 1), "response_tokens_per_s": round(response_tokens / elapsed, 1),
            "step_s": round(elapsed / steps, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 for tiny, 2 for the 135M model)")
    parser.add_argument("--demos", type=int, default=400, help="procedural demonstrations to synthesize")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--demos-file", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child, Path(args.demos_file), args.steps, args.warmup, args.threads or THREADS[args.child],
                         Path(args.work) / args.child)
        print("RESULT " + json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-sft-") as work:
        demos = make_demos(Path(work) / "synth", args.demos)
        results = []
        for model in args.models:
            threads = args.threads or THREADS[model]
            out = subprocess.run([sys.executable, __file__, "--child", model, "--demos-file", str(demos),
                                  "--work", work, "--steps", str(args.steps), "--warmup", str(args.warmup),
                                  "--threads", str(threads)], capture_output=True, text=True, check=True)
            line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
            results.append(json.loads(line[len("RESULT "):]))
    header = (f"{'model':<14}{'params':>12}{'seq/step':>10}{'tokens/s':>11}{'bound':>9}{'share':>7}"
              f"{'resp tok/s':>12}{'step s':>9}{'load s':>8}{'reload s':>9}{'peak MiB':>10}")
    print(header)
    for r in results:
        print(f"{r['model']:<14}{r['parameters']:>12,}{r['sequences_per_step']:>10}{r['tokens_per_s']:>11,.0f}"
              f"{r['bound_tokens_per_s']:>9,.0f}{r['share_of_bound']:>7.2f}{r['response_tokens_per_s']:>12,.0f}"
              f"{r['step_s']:>9.2f}{r['load_s']:>8.1f}{str(r['reload_s'] or '-'):>9}{r['peak_rss_mib']:>10,.0f}")
    out_path = ROOT / "bench" / "results" / "sft.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out_path.read_text())["results"] if out_path.is_file() else []
    kept = [r for r in previous if r["model"] not in {r["model"] for r in results}]  # other models' last numbers
    command = "python bench/sft.py " + " ".join(sys.argv[1:])
    out_path.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                    "results": kept + [{**r, "command": command, "load_average": os.getloadavg()[0]}
                                                       for r in results]}, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
