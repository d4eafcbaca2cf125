"""Peak memory of one PPO update with and without gradient checkpointing, against the memory plan.

    python bench/checkpointing.py                       # a 60M-parameter Qwen2 model, 4 x 1024 tokens
    python bench/checkpointing.py --layers 12 --hidden 768 --tokens 2048

Builds a mid-size Qwen2 policy in-process (random weights, saved to a temp folder) and, in a fresh
child process per setting, runs the real learner (``train.rl.learner.Learner``: actor and critic,
GAE, fp32) on one rollout batch of ``--batch`` sequences of ``--tokens`` tokens, one micro-batch.
Reported per setting: the resident memory before the update (models and optimizer states), the
high-water mark of the process during it, their difference (activations, logits, gradients and the
optimizer's first step), and the seconds the update took. Beside them, what ``satori rl --dry-run``
plans for activations and logits under the same settings. Prints a table and writes
``bench/results/checkpointing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

MIB = 1 << 20


def build_policy(folder: Path, args: argparse.Namespace) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(hidden_size=args.hidden, intermediate_size=args.hidden * 3, num_hidden_layers=args.layers,
                         num_attention_heads=args.hidden // 64, num_key_value_heads=max(1, args.hidden // 256),
                         vocab_size=args.vocab, max_position_embeddings=args.tokens + 8, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(folder)


def rl_config(policy: Path, args: argparse.Namespace, checkpointing: bool):
    from satori.config import load_config
    from train.rl.config import RLConfig

    return load_config(RLConfig, None, [
        f"model.policy={policy}", f"model.gradient_checkpointing={str(checkpointing).lower()}",
        "algo.advantage=gae", f"algo.micro_batch_size={args.batch}", "data.max_prompt_len=64",
        f"rollout.max_new_tokens={args.tokens - 64}", f"threads={args.threads}"])


def measure(policy: Path, args: argparse.Namespace, checkpointing: bool) -> dict:
    """In a fresh process: one learner update; memory before and its high-water mark."""
    import psutil
    import torch

    from train.rl.batch import Sample, add_advantages, collate
    from train.rl.learner import Learner

    config = rl_config(policy, args, checkpointing)
    learner = Learner(config)
    generator = torch.Generator().manual_seed(0)
    samples = []
    for row in range(args.batch):
        ids = torch.randint(3, args.vocab, (args.tokens,), generator=generator).tolist()
        samples.append(Sample(ids[:64], ids[64:], [-1.0] * (args.tokens - 64), reward=float(row % 2), group=row // 2))
    batch = collate(samples, pad_id=0)
    batch.update({k: v for k, v in learner.score(batch).items() if k != "rows"})
    add_advantages(batch, config.algo)
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    learner.update(batch)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"checkpointing": checkpointing, "before_mib": round(before / MIB), "peak_mib": round(peak / MIB),
            "update_mib": round((peak - before) / MIB), "update_s": round(seconds, 2)}


def planned(policy: Path, args: argparse.Namespace, checkpointing: bool) -> dict:
    from transformers import AutoConfig

    from train.rl.memory_plan import plan_rows

    rows = plan_rows(rl_config(policy, args, checkpointing), AutoConfig.from_pretrained(policy))
    pick = lambda prefix: round(sum(r.gib for r in rows if r.item.startswith(prefix)) * 1024)   # noqa: E731
    return {"plan_activations_mib": pick("activations"), "plan_logits_mib": pick("logits")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=640)
    parser.add_argument("--vocab", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=4, help="sequences in the one micro-batch")
    parser.add_argument("--tokens", type=int, default=1024, help="tokens per sequence (64 of them prompt)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "checkpointing.json"))
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--policy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(Path(args.policy), args, args.child == "on")), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as work:
        policy = Path(work) / "policy"
        build_policy(policy, args)
        from transformers import AutoConfig

        from train.rl.memory_plan import count_parameters

        parameters = count_parameters(AutoConfig.from_pretrained(policy))[0]
        rows = []
        for setting in ("off", "on"):
            command = [sys.executable, __file__, "--child", setting, "--policy", str(policy),
                       *[f"--{k}={getattr(args, k)}" for k in ("layers", "hidden", "vocab", "batch", "tokens", "threads")]]
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            row = next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))
            rows.append({**row, **planned(policy, args, setting == "on")})
    print(f"Qwen2 {parameters / 1e6:.0f}M parameters ({args.layers} layers, hidden {args.hidden}, vocab {args.vocab}), "
          f"actor + critic, one micro-batch of {args.batch} x {args.tokens} tokens, {args.threads} threads")
    columns = ["checkpointing", "before_mib", "peak_mib", "update_mib", "plan_activations_mib", "plan_logits_mib",
               "update_s"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {"parameters": parameters, "settings": {k: getattr(args, k) for k in (
        "layers", "hidden", "vocab", "batch", "tokens", "threads")}, "rows": rows,
        "load_average": os.getloadavg(), "command": "python bench/checkpointing.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
