"""TRL's GRPOTrainer as the RL peer anchor: satori's SFT checkpoint, prompts, reward, batch and wall-clock budget.

Runs with the python of its own venv (TRL is a benchmark dependency, never one of satori's); ``bench/learning.py
--anchor trl`` starts it with the settings of the RL stage's config. By hand:

    /work/trl-venv/bin/python bench/anchors/trl_grpo.py --policy runs/quickstart/sft/model \\
        --prompts runs/learning/trl/prompts.jsonl --out runs/learning/trl --budget-seconds 150

``--prompts`` is JSONL with ``prompt`` (the whole prompt text, template applied) and ``gold`` (the gold answer,
JSON-encoded). Reward: 1 for a correct answer, else 0, from satori's own verifier (``satori.grading.verify_batch``,
imported from this checkout: grading needs only sympy and latex2sympy2_extended) on each completion decoded with
the COAT action tokens kept, as satori's rollout engines decode it. One PPO step is one generation batch of
``prompts_per_step x samples_per_prompt`` completions, trained in ``mini_batches`` optimizer steps of
``micro_batch_size`` sequences per forward pass, as satori does. The budget counts from this script's start
(imports and model loading included, as the RL stage's wall time includes its own start-up); training stops at
a PPO-step boundary once the mean step time says another step would end past it (at least one step runs).

Writes ``OUT/final`` (model and tokenizer), ``OUT/log.jsonl`` (TRL's log rows) and ``OUT/result.json``.
"""

from __future__ import annotations

import time

START = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", required=True, help="SFT checkpoint folder")
    parser.add_argument("--prompts", required=True, help="JSONL rows with prompt and gold")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--budget-seconds", type=float, required=True,
                        help="wall-clock budget, counted from this script's start")
    parser.add_argument("--prompts-per-step", type=int, default=16)
    parser.add_argument("--samples-per-prompt", type=int, default=8)
    parser.add_argument("--mini-batches", type=int, default=1, help="optimizer steps per PPO step")
    parser.add_argument("--micro-batch-size", type=int, default=16, help="sequences per forward/backward pass")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--clip-low", type=float, default=0.2)
    parser.add_argument("--clip-high", type=float, default=0.2)
    parser.add_argument("--beta", type=float, default=0.0, help="KL coefficient")
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="off by default, as in satori (TRL's default is on)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verify-timeout", type=float, default=5.0)
    parser.add_argument("--verifier-workers", type=int, default=1)
    return parser.parse_args()


def batch_layout(args: argparse.Namespace) -> tuple[int, int, int]:
    """(per-device batch, gradient accumulation, steps per generation) reproducing satori's PPO step."""
    batch = args.prompts_per_step * args.samples_per_prompt
    if batch % args.mini_batches:
        sys.exit(f"prompts_per_step x samples_per_prompt = {batch} is not divisible by "
                 f"mini_batches = {args.mini_batches}")
    mini = batch // args.mini_batches
    micro = args.micro_batch_size if mini % args.micro_batch_size == 0 else mini
    accumulation = mini // micro
    return micro, accumulation, accumulation * args.mini_batches


def correctness_reward(tokenizer, timeout: float, workers: int):
    """TRL reward function: 1.0 when satori's verifier accepts the completion's answer, else 0.0."""
    from satori.grading import verify_batch
    from satori.tokenization import ActionKeepingDecoder

    decode = ActionKeepingDecoder(tokenizer)

    def correctness(prompts, completions, completion_ids, gold, **kwargs):
        pairs = [(decode(ids), json.loads(answer)) for ids, answer in zip(completion_ids, gold)]
        return [1.0 if verdict.correct else 0.0 for verdict in verify_batch(pairs, workers=workers, timeout=timeout)]

    return correctness


def budget_callback(deadline: float, updates_per_step: int):
    """A TrainerCallback that times PPO steps and stops before a step that would end past ``deadline``."""
    from transformers import TrainerCallback

    class Budget(TrainerCallback):
        def __init__(self) -> None:
            self.step_seconds: list[float] = []
            self.train_start = self.mark = time.monotonic()

        def on_train_begin(self, args, state, control, **kwargs):
            self.train_start = self.mark = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % updates_per_step:
                return
            now = time.monotonic()
            self.step_seconds.append(now - self.mark)
            self.mark = now
            if now + sum(self.step_seconds) / len(self.step_seconds) > deadline:
                control.should_training_stop = True

    return Budget()


def main() -> None:
    args = parse_args()
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows = [json.loads(line) for line in Path(args.prompts).read_text().splitlines() if line.strip()]
    tokenizer = AutoTokenizer.from_pretrained(args.policy)
    model = AutoModelForCausalLM.from_pretrained(args.policy, dtype=torch.float32)
    micro, accumulation, steps_per_generation = batch_layout(args)
    config = GRPOConfig(
        output_dir=str(out / "trainer"), use_cpu=True, bf16=False, seed=args.seed, max_steps=10 ** 6,
        per_device_train_batch_size=micro, gradient_accumulation_steps=accumulation,
        steps_per_generation=steps_per_generation, num_generations=args.samples_per_prompt,
        max_completion_length=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
        learning_rate=args.lr, lr_scheduler_type="constant_with_warmup", warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, epsilon=args.clip_low,
        epsilon_high=args.clip_high, beta=args.beta, loss_type="dapo", scale_rewards="group",
        gradient_checkpointing=args.gradient_checkpointing, logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, dataloader_num_workers=0)
    budget = budget_callback(START + args.budget_seconds, args.mini_batches)
    trainer = GRPOTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=Dataset.from_list(rows),
                          reward_funcs=correctness_reward(tokenizer, args.verify_timeout, args.verifier_workers),
                          callbacks=[budget])
    trainer.train()
    train_seconds = time.monotonic() - budget.train_start
    trainer.save_model(str(out / "final"))  # model and tokenizer
    log = trainer.state.log_history
    (out / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    steps = len(budget.step_seconds)
    result = {
        "steps": steps, "optimizer_steps": trainer.state.global_step, "budget_seconds": args.budget_seconds,
        "wall_seconds": round(time.monotonic() - START, 1), "train_seconds": round(train_seconds, 1),
        "step_seconds": round(sum(budget.step_seconds) / max(steps, 1), 2),
        "reward_per_step": [row["reward"] for row in log if "reward" in row],  # logged once per generation
        "prompts": len(rows), "layout": {"per_device_train_batch_size": micro,
                                         "gradient_accumulation_steps": accumulation,
                                         "steps_per_generation": steps_per_generation},
        "versions": {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "settings": vars(args)}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("reward_per_step", "settings")}))


if __name__ == "__main__":
    main()
