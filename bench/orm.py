"""An outcome reward model for the quick start: held-out pairwise accuracy, AUC, and ORM best-of-8 against
pass@1, a random pick of the 8, maj@8 and pass@8.

    python bench/orm.py --policy runs/quickstart/sft/model            # configs/rm_tiny.yaml, run in runs/bench_orm
    python bench/orm.py --policy PATH model.score=head train.loss=bce   # any rm key=value override

Runs ``satori rm`` (``configs/rm_tiny.yaml``) in-process: the policy samples 8 completions of each train-split
problem and of each held-out test-split problem (``procedural:arith,fractions,linear:0,1``, the quick start's
RL problems), the verifier grades them (label building is resumable and timed apart), then the reward model
trains and is timed. On the held-out problems' 8 samples it reports: pairwise accuracy (with a 95%
bootstrap interval over problems) and AUC; pass@1 (the
mean share of correct samples: what one sample scores on average); a random pick (one sample per problem,
seeded: the same expectation, measured); ORM best-of-8 (the top-scored sample); ORM-weighted vote
(``sigmoid(score)``-weighted majority over extracted answers); maj@8 and pass@8 for scale. Beside the ORM, the
same numbers for the policy's own confidence (each sample's mean token log-probability under ``data.policy``,
no training), the baseline a trained ORM should beat. Prints a table and writes ``bench/results/orm.json``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


def pairwise_interval(problems, seed: int, resamples: int = 2000) -> list[float]:
    """95% bootstrap interval of the pairwise accuracy, resampling problems (``(scores, correct)`` each)."""
    from eval.rerank import pairwise_accuracy

    rng = random.Random(seed)
    values = sorted(pairwise_accuracy([problems[rng.randrange(len(problems))] for _ in problems])
                    for _ in range(resamples))
    return [values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]]


def rerank_numbers(rows, scores, seed: int) -> dict[str, float]:
    """Accuracy of each way to pick one answer from a problem's samples (``rows``: label rows; ``scores``: ORM
    scores per problem, aligned with ``row.samples``)."""
    from eval.metrics import maj_at_k, mean_pass_at_k
    from eval.rerank import best_of_n, pairwise_accuracy, roc_auc, weighted_vote

    rng = random.Random(seed)
    correct = [[s["correct"] for s in row.samples] for row in rows]
    answers = [[s.get("answer") for s in row.samples] for row in rows]
    n = len(correct[0])
    vote = [weighted_vote(a, s) for a, s in zip(answers, scores)]
    return {
        "problems": len(rows), "samples_per_problem": n,
        "pairwise_accuracy": pairwise_accuracy(list(zip(scores, correct))),
        "pairwise_accuracy_95ci": pairwise_interval(list(zip(scores, correct)), seed),
        "auc": roc_auc([v for s in scores for v in s], [c for cs in correct for c in cs]),
        "pass@1": mean_pass_at_k([(len(c), sum(c)) for c in correct], 1),
        "random_pick": sum(c[rng.randrange(len(c))] for c in correct) / len(correct),
        f"orm_best_of_{n}": sum(c[best_of_n(s)] for c, s in zip(correct, scores)) / len(correct),
        f"orm_weighted_vote_{n}": sum(w is not None and c[w] for c, w in zip(correct, vote)) / len(correct),
        f"maj@{n}": sum(maj_at_k(a, c, n) for a, c in zip(answers, correct)) / len(correct),
        f"pass@{n}": mean_pass_at_k([(len(c), sum(c)) for c in correct], n),
    }


def policy_confidence(policy: str, rows, config) -> list[list[float]]:
    """Each sample's mean token log-probability under ``policy`` (a likelihood score of scale 1, read as the
    reward model reads it), per problem."""
    import torch

    from satori.models import load_model_and_tokenizer
    from satori.orm import Scorer, batched_scores, encode_scored
    from satori.prompts import build_prompt
    from satori.run_config import set_threads

    set_threads(config.threads)
    model, tokenizer, _ = load_model_and_tokenizer(policy)
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [encode_scored(tokenizer, build_prompt(row.question, config.data.template, tokenizer), s["text"],
                             config.data.max_length) for row in rows for s in row.samples]
    with torch.no_grad():
        flat = iter(batched_scores(model, encoded, pad, config.eval.batch_size, Scorer("likelihood", 1.0)))
    return [[next(flat) for _ in row.samples] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="runs/quickstart/sft/model", help="the format-tuned (SFT) model folder")
    parser.add_argument("--config", default=str(ROOT / "configs" / "rm_tiny.yaml"))
    parser.add_argument("--run-dir", default="runs/bench_orm")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "orm.json"))
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="rm config overrides")
    args = parser.parse_args()

    from satori.config import load_config, to_dict
    from satori.io import atomic_write_json
    from train.rm.config import RMConfig
    from train.rm.labels import label_stats, read_labels
    from train.rm.trainer import RMTrainer, ensure_labels
    from train.sft.trainer import FINAL_MODEL_DIR

    config = load_config(RMConfig, args.config, [f"data.policy={args.policy}", f"run_dir={args.run_dir}",
                                                 *args.overrides], section="rm")
    started = time.perf_counter()
    train_path, eval_path = ensure_labels(config)
    label_seconds = time.perf_counter() - started
    started = time.perf_counter()
    trainer = RMTrainer(config)
    final = trainer.train()
    train_seconds = time.perf_counter() - started

    rows = read_labels(eval_path)
    complete = [row for row in rows if len(row.samples) == config.data.samples]
    numbers = rerank_numbers(complete, trainer.score_rows(complete), config.seed)
    confidence = rerank_numbers(complete, policy_confidence(args.policy, complete, config), config.seed)
    result = {"policy": args.policy, "model": str(Path(config.run_dir) / FINAL_MODEL_DIR),
              "train_labels": label_stats(read_labels(train_path)), "eval_labels": label_stats(rows),
              "label_seconds": round(label_seconds, 1), "train_seconds": round(train_seconds, 1),
              "steps": trainer.step, "threads": config.threads, "final_eval": final, "held_out": numbers,
              "policy_confidence": confidence,
              "config": to_dict(config)}
    atomic_write_json(args.out, result)
    print(f"\nORM on {numbers['problems']} held-out problems x {numbers['samples_per_problem']} samples "
          f"(trained {trainer.step} steps in {train_seconds:.0f} s; labels {label_seconds:.0f} s)")
    print("| metric | ORM | policy confidence |\n|---|---|---|")
    for key, value in numbers.items():
        shown = [f"{v:.3f}" if isinstance(v, float) else f"[{v[0]:.3f}, {v[1]:.3f}]" if isinstance(v, list) else str(v)
                 for v in (value, confidence[key])]
        print(f"| {key} | {shown[0]} | {shown[1]} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
