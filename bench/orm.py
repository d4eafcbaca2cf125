"""An outcome reward model for the quick start: held-out pairwise accuracy, AUC, and ORM best-of-8 against
pass@1, a random pick of the 8, maj@8 and pass@8.

    python bench/orm.py --policy runs/quickstart/sft/model            # configs/rm_tiny.yaml, run in runs/bench_orm
    python bench/orm.py --policy PATH train.loss=bce max_steps=200      # any rm key=value override

Runs ``satori rm`` (``configs/rm_tiny.yaml``) in-process: the policy samples 8 completions of each train-split
problem and of each held-out test-split problem (``procedural:arith,fractions,linear:0,1``, the quick start's
RL problems), the verifier grades them (label building is resumable and timed apart), then the reward model
trains and is timed. On the held-out problems' 8 samples it reports: pairwise accuracy and AUC; pass@1 (the
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
        "auc": roc_auc([v for s in scores for v in s], [c for cs in correct for c in cs]),
        "pass@1": mean_pass_at_k([(len(c), sum(c)) for c in correct], 1),
        "random_pick": sum(c[rng.randrange(len(c))] for c in correct) / len(correct),
        f"orm_best_of_{n}": sum(c[best_of_n(s)] for c, s in zip(correct, scores)) / len(correct),
        f"orm_weighted_vote_{n}": sum(w is not None and c[w] for c, w in zip(correct, vote)) / len(correct),
        f"maj@{n}": sum(maj_at_k(a, c, n) for a, c in zip(answers, correct)) / len(correct),
        f"pass@{n}": mean_pass_at_k([(len(c), sum(c)) for c in correct], n),
    }


def policy_confidence(policy: str, rows, template: str, threads: int | None) -> list[list[float]]:
    """Each sample's mean token log-probability under ``policy`` (its prompt in ``template``), per problem."""
    import torch

    from satori.models import load_model_and_tokenizer
    from satori.prompts import build_prompt
    from satori.run_config import set_threads

    set_threads(threads)
    model, tokenizer, _ = load_model_and_tokenizer(policy)
    model.eval()
    scores = []
    for row in rows:
        prompt = tokenizer.encode(build_prompt(row.question, template, tokenizer), add_special_tokens=False)
        mine = []
        for sample in row.samples:
            response = tokenizer.encode(sample["text"], add_special_tokens=False)
            ids = torch.tensor([prompt + response])
            with torch.no_grad():
                logprobs = torch.log_softmax(model(input_ids=ids).logits[0, len(prompt) - 1:-1].float(), -1)
            mine.append(logprobs.gather(-1, ids[0, len(prompt):, None]).mean().item())
        scores.append(mine)
    return scores


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
    confidence = rerank_numbers(complete, policy_confidence(args.policy, complete, config.data.template,
                                                            config.threads), config.seed)
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
        print(f"| {key} | {value:.3f} | {confidence[key]:.3f} |" if isinstance(value, float)
              else f"| {key} | {value} | {confidence[key]} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
