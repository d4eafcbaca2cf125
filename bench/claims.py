"""How often a policy's arithmetic claims hold, greedy and sampled, with its answer accuracy.

    python bench/claims.py --models runs/quickstart/sft/model,runs/quickstart/rl1/final

For each checkpoint, answers ``--problems`` procedural training problems (difficulty 0) greedily
and ``--samples`` times at temperature 1 (transformers engine, seed 0), reads every claim of
the continue/explore steps (``satori.claims``) and grades the final answers. Prints a table and
writes ``bench/results/claims.json``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(model: str, args: argparse.Namespace) -> list[dict]:
    import torch

    from satori.claims import find_claims
    from satori.engines.base import SamplingParams
    from satori.engines.hf import HFEngine
    from satori.grading import verify_batch
    from satori.prompts import encode_prompt
    from train.rl.problem_sets import load_problem_set

    torch.set_num_threads(args.threads)
    problems = load_problem_set(args.problem_set, args.problems, "train", 0, 0)
    engine = HFEngine(model, max_batch_size=128)
    prompts = [encode_prompt(p.question, engine.tokenizer) for p in problems]
    rows = []
    for temperature, n in ((0.0, 1), (1.0, args.samples)):
        groups = engine.generate(prompts, SamplingParams(max_new_tokens=args.max_new_tokens, temperature=temperature,
                                                         n=n, seed=0, logprobs=False))
        texts = [(c.text, p.gold) for p, group in zip(problems, groups) for c in group]
        claims = [claim for text, _ in texts for claim in find_claims(text)]
        verdicts = verify_batch(texts, timeout=5)
        rows.append({"model": model, "temperature": temperature, "responses": len(texts), "claims": len(claims),
                     "claims_holding": round(sum(c.holds for c in claims) / max(len(claims), 1), 3),
                     "accuracy": round(sum(v.correct for v in verdicts) / len(verdicts), 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="comma-separated checkpoint folders")
    parser.add_argument("--problem-set", default="procedural:arith,fractions,linear")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8, help="samples per problem at temperature 1")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "claims.json"))
    args = parser.parse_args()
    results = [row for model in args.models.split(",") for row in measure(model, args)]
    columns = ["model", "temperature", "responses", "claims", "claims_holding", "accuracy"]
    print(f"{args.problems} training problems ({args.problem_set}, difficulty 0), {os.cpu_count()} CPUs")
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(str(row[c]) for c in columns))
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {"problems": args.problems, "samples": args.samples,
                                 "max_new_tokens": args.max_new_tokens, "results": results})


if __name__ == "__main__":
    main()
