"""Format tuning: supervised fine-tuning on COAT demonstrations (stage one of the Satori recipe).

Run it with::

    satori sft configs/sft_tiny.yaml                      # the embedded default (tiny model, CPU)
    satori sft configs/sft_smollm2.yaml max_steps=5       # the real 135M model from a GGUF file

The run folder gets ``config.yaml`` (resolved), ``checkpoint-NNNNNN/`` (HF model + training
state, every ``checkpoint_every`` steps and at the end), ``model/`` (the final HF folder the PPO
stage starts from), ``metrics.jsonl`` + ``tensorboard/``, ``loss.png`` and
``eval_stepNNNNNN.jsonl`` (the greedy completions of each generation check).

Departures from the paper: the loss is the token mean over each optimizer step (all response
tokens of the accumulated micro-batches), and packing is optional rather than always on.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from satori.config import ConfigError, format_config, save_config, to_dict
from satori.io import atomic_write_json, atomic_write_jsonl
from satori.models import build_tiny_model_and_tokenizer, load_model_and_tokenizer, read_satori_meta
from satori.prompts import build_prompt
from satori.run_config import WallClock, due, finished, set_threads
from satori.tracking import MetricsTracker, plot_metrics
from train.checkpoint import checkpoint_to_resume, export_model, load_training_state, save_checkpoint
from train.precision import autocast, param_dtype, training_device
from train.sft.config import SFTConfig
from train.sft.data import (IGNORE_INDEX, BatchStream, Demo, Encoded, collate, encode_demos, load_demos,
                            split_by_question)

LOSS_PLOT_KEYS = ["loss/train+eval/loss", "eval/valid_coat+eval/accuracy", "optim/lr"]
FINAL_MODEL_DIR = "model"


def response_loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over response tokens, and their count.

    ``batch`` holds ``input_ids``, ``position_ids``, ``labels``, each ``(B, T)`` (moved to the model's
    device here); logits at ``t`` predict ``labels[t + 1]``.
    """
    ids, positions = batch["input_ids"].to(model.device), batch["position_ids"].to(model.device)
    logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.to(model.device).reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, int((targets != IGNORE_INDEX).sum())


def lr_factor(step: int, max_steps: int, warmup_steps: int, schedule: str, min_lr_ratio: float) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based): linear warm-up, then decay."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return min_lr_ratio + (1 - min_lr_ratio) * decay


def build_optimizer(model: Any, config: SFTConfig, max_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW (no weight decay on biases and norms) and its LambdaLR schedule."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    o = config.optim
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=o.lr, betas=tuple(o.betas), eps=o.eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, max_steps, o.warmup_steps, o.schedule, o.min_lr_ratio))
    return optimizer, scheduler


def start_from(trainer: Any, config: Any, checkpoint: Path | None) -> None:
    """Give ``trainer`` (with ``model``, ``max_steps``, ``run_dir``, ``clock``) its optimizer and schedule, the step,
    their states and the clock's spent seconds restored from ``checkpoint`` (None: step 0), ``resumed_from``, and
    its metrics tracker; save ``config``."""
    trainer.optimizer, trainer.scheduler = build_optimizer(trainer.model, config, trainer.max_steps)
    state = load_training_state(checkpoint, trainer.optimizer, trainer.scheduler) if checkpoint else None
    trainer.step = state.step if state else 0
    trainer.clock.spent_before = state.extra.get("spent_seconds", 0.0) if state else 0.0
    trainer.resumed_from = checkpoint
    trainer.tracker = MetricsTracker(trainer.run_dir, resume_step=trainer.step if checkpoint else None,
                                     config=config.tracking, run_config=to_dict(config))
    save_config(config, trainer.run_dir / "config.yaml")


def finish_run(trainer: Any, stage: str, plot_keys: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """End ``trainer``'s run (with ``model``, ``tokenizer``, ``meta``, ``run_dir``, ``step``, ``tracker``): export
    the final model, plot ``plot_keys``, write ``summary.json`` with ``summary``, close the tracker; returns
    ``summary``."""
    run_dir = trainer.run_dir
    trainer.tracker.flush()
    export_model(run_dir / FINAL_MODEL_DIR, trainer.model, trainer.tokenizer, trainer.meta)
    plot_metrics(trainer.tracker.path, plot_keys, run_dir / "loss.png", title=f"{stage} {run_dir.name}")
    atomic_write_json(run_dir / "summary.json", {"step": trainer.step, **summary})
    trainer.tracker.close()
    print(f"{stage}: done at step {trainer.step}: {summary}; model in {run_dir / FINAL_MODEL_DIR}", flush=True)
    return summary


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_model(config: SFTConfig, checkpoint: Path | None, corpus: list[str]) -> tuple[Any, Any, dict]:
    """The model to train: the resumed checkpoint, a fresh tiny model (its tokenizer trained on
    ``corpus``), or a loaded pretrained one."""
    m = config.model
    if checkpoint is not None:
        model, tokenizer, meta = load_model_and_tokenizer(str(checkpoint))
        meta = {**read_satori_meta(checkpoint), **meta}
    elif m.source == "tiny":
        t = m.tiny
        model, tokenizer, meta = build_tiny_model_and_tokenizer(
            corpus, vocab_size=t.vocab_size, arch=t.arch, hidden_size=t.hidden_size, num_layers=t.num_layers,
            num_heads=t.num_heads, intermediate_size=t.intermediate_size, max_positions=t.max_positions,
            seed=config.seed)
    else:
        model, tokenizer, meta = load_model_and_tokenizer(m.source, gguf_file=m.gguf_file,
                                                          trust_remote_code=m.trust_remote_code)
    if m.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.to(training_device(), param_dtype(m.precision)).train(), tokenizer, meta


class SFTTrainer:
    """Owns the model, data stream, optimizer and tracker of one SFT run; :meth:`train` runs it."""

    stage = "sft"   # names the stage in the model's meta, logs and plot titles

    def __init__(self, config: SFTConfig, progress: bool = True):
        self.clock = WallClock(config.max_seconds)   # counts from here: loading the data and model is in the budget
        self.config = config
        self.progress = progress
        self.run_dir = Path(config.run_dir)
        set_threads(config.threads)
        checkpoint = checkpoint_to_resume(self.run_dir, config.resume)
        seed_everything(config.seed)
        d = config.data
        self.train_demos, self.val_demos = self.load_documents()
        corpus = [text for demo in self.train_demos for text in (demo.question, demo.response) if text]
        self.model, self.tokenizer, self.meta = prepare_model(config, checkpoint, corpus)
        self.meta["stage"] = self.stage
        self.check_tokenizer()
        train_examples, self.data_stats = self.encode(self.train_demos)
        self.val_examples, _ = self.encode(self.val_demos)
        pad_id = self.tokenizer.pad_token_id
        self.stream = BatchStream(train_examples, config.train.batch_size, d.max_length, d.packing, pad_id,
                                  config.seed)
        t = config.train
        steps_per_epoch = -(-self.stream.batches_per_epoch // t.grad_accum)
        self.max_steps = config.max_steps or max(1, math.ceil(t.epochs * steps_per_epoch))
        start_from(self, config, checkpoint)

    def load_documents(self) -> tuple[list[Demo], list[Demo]]:
        """Train and validation demonstrations (validation holds out whole questions)."""
        d = self.config.data
        demos = load_demos(d.path, *d.fields(), limit=d.limit, split=d.split, data_format=d.format)
        return split_by_question(demos, d.val_size, self.config.seed)

    def check_tokenizer(self) -> None:
        """Refuse a prompt template the tokenizer cannot render; record the template in the model's meta."""
        try:
            build_prompt("1 + 1", self.config.data.template, self.tokenizer)
        except ValueError as exc:
            raise ConfigError(f"key 'data.template': {exc}") from None
        self.meta["template"] = self.config.data.template

    def encode(self, demos: list[Demo]) -> tuple[list[Encoded], dict[str, int]]:
        """Token ids of ``demos`` (prompt, response) under the over-length policy."""
        d = self.config.data
        return encode_demos(demos, self.tokenizer, d.template, d.max_length, d.overlength)

    def autocast(self) -> Any:
        """The forward pass's context under ``model.precision`` (bf16 autocast for bf16-mixed)."""
        return autocast(self.config.model.precision, self.model.device.type)

    def train_step(self) -> dict[str, float]:
        """One optimizer step over ``grad_accum`` micro-batches; returns its metrics."""
        started = time.perf_counter()
        accum = self.config.train.grad_accum
        batches = [self.stream.micro_batch(self.step * accum + i) for i in range(accum)]
        response_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
        total_loss = 0.0
        for batch in batches:
            with self.autocast():
                loss_sum, _ = response_loss_sum(self.model, batch)
            (loss_sum / max(1, response_tokens)).backward()
            total_loss += loss_sum.item()
        max_norm = self.config.optim.max_grad_norm
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm if max_norm > 0 else math.inf)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        elapsed = time.perf_counter() - started
        tokens = sum(b["num_tokens"] for b in batches)
        return {"loss/train": total_loss / max(1, response_tokens), "optim/lr": lr,
                "optim/grad_norm": float(grad_norm), "perf/tokens_per_s": tokens / elapsed,
                "perf/step_s": elapsed, "data/response_tokens": response_tokens,
                "data/epoch": self.step * accum / self.stream.batches_per_epoch}

    def train(self) -> dict[str, float]:
        """Train to ``max_steps`` (from the resumed step), evaluating and checkpointing on the way."""
        c = self.config
        print(format_config(c), flush=True)
        print(f"{self.stage}: {len(self.train_demos)} train / {len(self.val_demos)} val documents; "
              f"{self.data_stats}; {self.stream.batches_per_epoch} micro-batches per epoch; "
              f"{self.max_steps} steps" + (f"; resuming from {self.resumed_from}" if self.resumed_from else ""),
              flush=True)
        final: dict[str, float] = {}
        bar = tqdm(total=self.max_steps, initial=self.step, desc="sft", disable=not self.progress,
                   dynamic_ncols=True)
        done = finished(self.step, self.max_steps, self.clock)
        while not done:
            with self.clock.step():
                metrics = self.train_step()
            done = finished(self.step, self.max_steps, self.clock)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss/train']:.3f}", lr=f"{metrics['optim/lr']:.2e}")
            if self.step % c.tracking.log_every == 0 or done:
                self.tracker.log(self.step, metrics)
            if not done and due(self.step, c.eval_every, done):
                self.tracker.log(self.step, self.evaluate())    # the last step's comes with its checkpoint
            if due(self.step, c.checkpoint_every, done):
                if done:
                    final = self.evaluate()
                    self.tracker.log(self.step, final)
                self.save()
        bar.close()
        self.tracker.flush()
        return finish_run(self, self.stage, c.tracking.plot_keys or LOSS_PLOT_KEYS,
                          final or _last_eval(self.tracker.path))

    def save(self) -> Path:
        self.tracker.flush()
        return save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, optimizer=self.optimizer,
                               scheduler=self.scheduler, data_state={"micro_batch": self.step * self.config.train.grad_accum},
                               extra={"spent_seconds": self.clock.spent()},
                               meta=self.meta, keep_checkpoints=self.config.keep_checkpoints)

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        """Token-mean response loss over the validation examples."""
        if not self.val_examples:
            return None
        self.model.eval()
        total, count = 0.0, 0
        size = self.config.eval.batch_size
        for start in range(0, len(self.val_examples), size):
            chunk = self.val_examples[start: start + size]
            with self.autocast():
                loss_sum, n = response_loss_sum(self.model, collate([[e] for e in chunk], self.tokenizer.pad_token_id))
            total, count = total + loss_sum.item(), count + n
        self.model.train()
        return total / max(1, count)

    def evaluate(self) -> dict[str, float]:
        """Validation loss and the greedy generation check (valid COAT with a boxed answer, accuracy)."""
        metrics: dict[str, float] = {}
        loss = self.validation_loss()
        if loss is not None:
            metrics["eval/loss"] = loss
        demos = _one_per_question(self.val_demos)[: self.config.eval.num_generations]
        if demos:
            rows = generation_check(self.model, self.tokenizer, demos, self.config.data.template,
                                    self.config.eval.max_new_tokens, self.config.eval.generation_batch_size)
            atomic_write_jsonl(self.run_dir / f"eval_step{self.step:06d}.jsonl", rows)
            metrics.update(summarize_generations(rows))
        self.model.train()
        return metrics


def generation_check(model: Any, tokenizer: Any, demos: list[Demo], template: str, max_new_tokens: int,
                     batch_size: int) -> list[dict[str, Any]]:
    """Greedy completions of ``demos``' questions, each graded: valid COAT + boxed answer, verified."""
    from satori.coat import is_valid
    from satori.engines.base import SamplingParams
    from satori.engines.hf import HFEngine
    from satori.grading import verify_batch
    from satori.prompts import encode_prompt

    engine = HFEngine(model, tokenizer, max_batch_size=batch_size)
    prompts = [encode_prompt(d.question, tokenizer, template) for d in demos]
    outputs = engine.generate(prompts, SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0, logprobs=False))
    completions = [out[0] for out in outputs]
    verdicts = verify_batch([(c.text, d.gold) for c, d in zip(completions, demos)])
    rows = []
    for demo, completion, verdict in zip(demos, completions, verdicts):
        rows.append({"id": demo.id, "question": demo.question, "gold": demo.gold, "completion": completion.text,
                     "tokens": len(completion.token_ids), "finish_reason": completion.finish_reason,
                     "valid_coat": is_valid(completion.text, require_answer=True),
                     "status": verdict.status, "correct": verdict.correct})
    return rows


def summarize_generations(rows: list[dict[str, Any]]) -> dict[str, float]:
    n = max(1, len(rows))
    return {"eval/valid_coat": sum(r["valid_coat"] for r in rows) / n,
            "eval/accuracy": sum(r["correct"] for r in rows) / n,
            "eval/response_tokens": sum(r["tokens"] for r in rows) / n,
            "eval/truncated": sum(r["finish_reason"] == "length" for r in rows) / n}


def _one_per_question(demos: list[Demo]) -> list[Demo]:
    seen: dict[str, Demo] = {}
    for demo in demos:
        seen.setdefault(demo.question, demo)
    return list(seen.values())


def _last_eval(metrics_path: Path) -> dict[str, float]:
    from satori.tracking import read_metrics

    rows = [r for r in read_metrics(metrics_path) if any(k.startswith("eval/") for k in r)]
    return {k: v for k, v in rows[-1].items() if k.startswith("eval/")} if rows else {}


def run_sft(config: SFTConfig, progress: bool = True) -> dict[str, float]:
    """Run (or resume) the SFT stage described by ``config``; returns the final eval metrics."""
    return SFTTrainer(config, progress=progress).train()


__all__ = ["SFTTrainer", "run_sft", "response_loss_sum", "lr_factor", "build_optimizer", "generation_check",
           "Encoded", "FINAL_MODEL_DIR"]
