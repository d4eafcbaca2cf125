"""Seconds per PPO step by phase, and tokens/s, for each advantage estimator and rollout engine.

    python bench/ppo.py --policy runs/quickstart/sft/model      # an SFT checkpoint
    python bench/ppo.py --engines hf,vllm                       # tiny model built in-process, both engines

Runs ``satori rl``'s own trainer (Ray; transformers or vLLM rollout workers) for ``--steps`` steps
per estimator and engine on procedural problems and averages the phase timers it logs (``perf/*``), leaving
out the first step (start-up effects). Prints a table and writes ``bench/results/ppo.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

PHASES = ("generate", "reward", "score", "update", "sync")


def tiny_policy(folder: Path) -> str:
    """A tiny Qwen2 policy (head size 64) whose tokenizer knows the procedural problems' text."""
    from data_synthesis.families import generate_mix
    from satori.tiny import build_model, build_tokenizer

    corpus = [p.question + " " + p.solution for p in generate_mix({"arith": 1, "linear": 1}, [0, 1], 400)]
    tokenizer = build_tokenizer(corpus, vocab_size=512)
    build_model(tokenizer, hidden_size=128, num_layers=2, num_heads=2).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def measure(estimator: str, engine: str, policy: str, args: argparse.Namespace, work: Path) -> dict:
    import ray

    from satori.config import load_config
    from train.rl.config import RLConfig
    from train.rl.driver import PPOTrainer

    run_dir = work / f"{estimator}-{engine}"
    config = load_config(RLConfig, None, [
        f"run_dir={run_dir}", f"model.policy={policy}", f"max_steps={args.steps}", f"eval_every={args.steps + 1}",
        f"checkpoint_every={args.steps + 1}", "data.eval_size=4", "data.train_size=600", f"data.difficulty={args.difficulty}",
        f"rollout.prompts_per_step={args.prompts}", f"rollout.samples_per_prompt={args.samples}",
        f"rollout.max_new_tokens={args.max_new_tokens}", f"rollout.engine={engine}", f"algo.advantage={estimator}", "rae.offline_samples=1",
        "rae.offline_problems=8", f"threads={args.threads}", "tracking.tensorboard=false"])
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        PPOTrainer(config).train()
    finally:
        ray.shutdown()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "perf/step_s" in r][1:]
    mean = lambda key: sum(r.get(key, 0.0) for r in steps) / len(steps)  # noqa: E731
    result = {"estimator": estimator, "engine": engine, "steps": len(steps), "step_s": round(mean("perf/step_s"), 2)}
    result.update({f"{phase}_s": round(mean(f"perf/{phase}_s"), 2) for phase in PHASES})
    result["generate_tokens_per_s"] = round(mean("perf/generate_tokens_per_s"), 1)
    result["update_tokens_per_s"] = round(mean("perf/update_tokens_per_s"), 1)
    result["response_tokens"] = round(mean("rollout/response_length"), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", help="SFT checkpoint folder (default: a tiny model built in-process)")
    parser.add_argument("--estimators", default="gae,grpo")
    parser.add_argument("--engines", default="hf", help="rollout engines to compare: hf, vllm or hf,vllm")
    parser.add_argument("--steps", type=int, default=4, help="steps per estimator (the first is not counted)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--difficulty", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ppo.json"))
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the first step is not counted)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="satori-bench-ppo-") as tmp:
        work = Path(tmp)
        policy = args.policy or tiny_policy(work / "policy")
        results = [measure(name, engine, policy, args, work)
                   for name in args.estimators.split(",") for engine in args.engines.split(",")]
    print(f"policy: {args.policy or 'tiny (in-process)'}; {args.prompts} prompts x {args.samples} samples, "
          f"max {args.max_new_tokens} new tokens, {os.cpu_count()} CPUs; mean of steps 2..{args.steps}")
    columns = ["estimator", "engine", "step_s", *(f"{p}_s" for p in PHASES), "generate_tokens_per_s", "update_tokens_per_s",
               "response_tokens"]
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(str(row[c]) for c in columns))
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {"policy": args.policy or "tiny", "prompts": args.prompts, "samples": args.samples,
                                 "max_new_tokens": args.max_new_tokens, "difficulty": args.difficulty,
                                 "load_average_1min_at_end": round(os.getloadavg()[0], 1),
                                 "command": "python bench/ppo.py " + " ".join(sys.argv[1:]), "results": results})


if __name__ == "__main__":
    main()
