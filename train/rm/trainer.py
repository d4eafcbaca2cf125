"""Outcome reward model training: a causal LM scoring a policy's graded samples.

Run it with::

    satori rm configs/rm_tiny.yaml                       # the quick start's SFT model, CPU, a few minutes

First the label sets (``train.rm.labels``): ``data.policy`` samples ``data.samples`` completions of each
problem, the verifier grades them (``RUN/labels/train.jsonl`` from the train split, ``eval.jsonl`` from
the held-out split; both resumable). Then the model: ``data.policy`` (or ``model.source``) scoring prompt +
response (``satori.orm``): with ``model.score: head``, as a transformers sequence-classification model with a
fresh one-output head on the response's last token; with ``model.score: likelihood``, as the causal LM it is,
by the scaled mean log-probability of the response. Loss ``bt``: Bradley-Terry over (correct, incorrect)
pairs of one problem; ``bce``: binary cross-entropy of each sample's verdict (``head`` only). The prompt is
read, never scored, and there is no language-model loss (nor packing).

Every ``eval_every`` steps: pairwise accuracy, AUC, best-of-n accuracy on the held-out labels. The run
folder gets ``labels/``, ``checkpoint-NNNNNN/`` (HF folder + training state; a killed run resumes exactly),
``model/`` (loads with ``AutoModelForSequenceClassification``, or ``AutoModelForCausalLM`` for a likelihood
score; ``reward.orm`` and ``satori eval --rerank`` take it), ``metrics.jsonl``, ``summary.json`` and
``loss.png``.

Departures from the paper: the paper does not say how its ORM was trained; this follows the usual
Bradley-Terry recipe with pairs drawn within a problem (``data.max_pairs_per_problem`` per problem).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from satori.config import ConfigError, format_config
from satori.io import DataError
from satori.orm import Scorer, batched_scores, encode_scored
from satori.prompts import build_prompt
from satori.run_config import WallClock, due, finished, set_threads
from train.algorithms.reward_losses import RM_LOSSES
from train.checkpoint import checkpoint_to_resume, save_checkpoint
from train.precision import autocast, param_dtype, training_device
from train.rm.config import RMConfig
from train.rm.labels import (LabelledProblem, build_labels, label_stats, labelled_points, preference_pairs,
                             read_labels)
from train.sft.data import epoch_order
from train.sft.trainer import finish_run, seed_everything, start_from

PLOT_KEYS = ["loss/train", "eval/pairwise_accuracy+eval/auc", "eval/best_of_n+eval/mean_accuracy"]


LABEL_SPLITS = ("train", "eval")


def label_paths(config: RMConfig) -> tuple[Path, Path]:
    d, labels = config.data, Path(config.run_dir) / "labels"
    return Path(d.train_file or labels / "train.jsonl"), Path(d.eval_file or labels / "eval.jsonl")


def ensure_labels(config: RMConfig, progress: bool = True, which: tuple[str, ...] = LABEL_SPLITS
                  ) -> tuple[Path, Path]:
    """Build (or finish) the ``which`` label files (train, held-out eval) from ``data.policy``'s samples.

    An existing ``data.train_file`` / ``data.eval_file`` is used as it is. A file in the run folder holding a
    problem the config does not ask for (another spec, size or seed) is refused.
    """
    from satori.engines.hf import HFEngine
    from satori.models import load_model_and_tokenizer
    from train.rl.problem_sets import load_problem_set

    set_threads(config.threads)
    d = config.data
    paths = dict(zip(LABEL_SPLITS, label_paths(config)))
    jobs = {"train": (d.problems, d.train_size, "train", config.seed),
            "eval": (d.eval_problems or d.problems, d.eval_size, d.eval_split, config.seed + 1)}
    engine = tokenizer = None
    given = {"train": d.train_file, "eval": d.eval_file}
    for name in which:
        spec, size, split, seed = jobs[name]
        path = paths[name]
        if given[name] and path.is_file():   # a label set of the user's own: used as it is
            continue
        problems = load_problem_set(spec, size, split, seed, d.difficulty)
        done = {row.id for row in read_labels(path)} if path.is_file() else set()
        extra = done - {p.id for p in problems}
        if extra:
            raise DataError(f"{path}: holds labels of problems this config does not ask for (e.g. {sorted(extra)[0]}); "
                            "it was built with other data.problems/sizes/seed: delete it or choose another run_dir")
        if len(done) == len(problems):
            continue
        if engine is None:
            model, tokenizer, _ = load_model_and_tokenizer(d.policy)
            engine = HFEngine(model, tokenizer, max_batch_size=d.sample_batch_size)
        build_labels(path, problems, engine, tokenizer, d.template, samples=d.samples,
                     max_new_tokens=d.max_new_tokens, temperature=d.temperature, seed=seed * 1_000_003,
                     progress=progress)
    return paths["train"], paths["eval"]


def load_reward_backbone(source: str, checkpoint: Path | None, score: str = "head") -> tuple[Any, Any, dict[str, Any]]:
    """The model to train: the resumed checkpoint, or ``source``: with a fresh one-output score head for a
    ``head`` score, as the causal LM it is for a ``likelihood`` score."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from satori.models import finish_loading, load_tokenizer, read_satori_meta, resolve_source

    folder, gguf = resolve_source(checkpoint and str(checkpoint) or source)
    if gguf:
        raise ConfigError("key 'model.source': a reward model starts from a Hugging Face folder or hub name, "
                          f"not a GGUF file ({source}); convert it with `satori sft` first")
    tokenizer = load_tokenizer(folder)
    if score == "likelihood":
        model = AutoModelForCausalLM.from_pretrained(folder)
    else:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, pad_token_id=pad)
    previous = read_satori_meta(folder) if Path(folder).is_dir() else {}
    meta = {"source": previous.get("source", source), "gguf_file": None,
            "added_tokens": list(previous.get("added_tokens", []))}
    return model, tokenizer, {**previous, **finish_loading(model, tokenizer, meta, add_actions=True)}


class RMTrainer:
    """Owns the model, examples, optimizer and tracker of one reward-model run; :meth:`train` runs it."""

    def __init__(self, config: RMConfig, progress: bool = True):
        self.clock = WallClock(config.max_seconds)   # counts from here: label sets and the model's loading included
        self.config, self.progress = config, progress
        self.run_dir = Path(config.run_dir)
        set_threads(config.threads)
        checkpoint = checkpoint_to_resume(self.run_dir, config.resume)
        train_path, eval_path = ensure_labels(config, progress)
        self.train_rows, self.eval_rows = read_labels(train_path), read_labels(eval_path)
        seed_everything(config.seed)
        d = config.data
        m = config.model
        self.model, self.tokenizer, self.meta = load_reward_backbone(config.backbone, checkpoint, m.score)
        self.model = self.model.to(training_device(), param_dtype(m.precision)).train()
        self.scorer = Scorer(m.score, m.score_scale)
        self.meta.update(stage="rm", template=d.template, max_length=d.max_length, loss=config.train.loss,
                         score=m.score, score_scale=m.score_scale)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.examples = self.encode_examples()
        t = config.train
        self.batches_per_epoch = -(-len(self.examples) // t.batch_size)
        self.max_steps = config.max_steps or max(1, math.ceil(t.epochs * self.batches_per_epoch))
        start_from(self, config, checkpoint)

    def encode(self, question: str, response: str) -> tuple[list[int], int]:
        """Prompt + response ids (the last ``data.max_length``) and how many of them are the response's."""
        prompt = build_prompt(question, self.config.data.template, self.tokenizer)
        return encode_scored(self.tokenizer, prompt, response, self.config.data.max_length)

    def encode_examples(self) -> list[tuple[Any, Any]]:
        """Training examples: ``(chosen, rejected)`` pairs for ``bt``, ``(encoded, label)`` for ``bce``, each
        encoded sample :meth:`encode`'s ``(ids, response_length)``."""
        c = self.config
        if c.train.loss == "bt":
            examples = [(self.encode(q, good), self.encode(q, bad))
                        for q, good, bad in preference_pairs(self.train_rows, c.data.max_pairs_per_problem, c.seed)]
        else:
            examples = [(self.encode(q, r), label) for q, r, label in labelled_points(self.train_rows)]
        if not examples:
            raise DataError(f"{label_paths(c)[0]}: no training {'pairs' if c.train.loss == 'bt' else 'samples'}: "
                            "no problem has both a correct and an incorrect sample; raise data.samples or "
                            "data.train_size, or use train.loss=bce")
        return examples

    def batch(self, step: int) -> list[tuple[Any, Any]]:
        """The examples of optimizer step ``step`` (0-based): a function of the step alone, so resuming is exact."""
        epoch, offset = divmod(step, self.batches_per_epoch)
        order = epoch_order(len(self.examples), self.config.seed, epoch)
        size = self.config.train.batch_size
        return [self.examples[i] for i in order[offset * size: (offset + 1) * size]]

    def loss(self, batch: list[tuple[Any, Any]]) -> tuple[torch.Tensor, dict[str, float]]:
        with autocast(self.config.model.precision, self.model.device.type):
            if self.config.train.loss == "bt":
                scores = self.scorer(self.model, [a for a, _ in batch] + [b for _, b in batch], self.pad_id)
                chosen, rejected = scores[: len(batch)], scores[len(batch):]
                loss = RM_LOSSES["bt"](chosen, rejected)
                return loss, {"train/pair_accuracy": (chosen > rejected).float().mean().item(),
                              "train/margin": (chosen - rejected).mean().item()}
            scores = self.scorer(self.model, [encoded for encoded, _ in batch], self.pad_id)
            labels = torch.tensor([label for _, label in batch], device=scores.device)
            return RM_LOSSES["bce"](scores, labels), {"train/score_mean": scores.mean().item()}

    def train_step(self) -> dict[str, float]:
        started = time.perf_counter()
        loss, metrics = self.loss(self.batch(self.step))
        loss.backward()
        max_norm = self.config.optim.max_grad_norm
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm if max_norm > 0 else math.inf)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"loss/train": loss.item(), **metrics, "optim/lr": lr, "optim/grad_norm": float(grad_norm),
                "perf/step_s": time.perf_counter() - started,
                "data/epoch": self.step / self.batches_per_epoch}

    @torch.no_grad()
    def score_rows(self, rows: list[LabelledProblem]) -> list[list[float]]:
        """Scores of every sample of ``rows``, per problem."""
        self.model.eval()
        flat = [self.encode(row.question, s["text"]) for row in rows for s in row.samples]
        with autocast(self.config.model.precision, self.model.device.type):
            scores = batched_scores(self.model, flat, self.pad_id, self.config.eval.batch_size, self.scorer)
        self.model.train()
        per_problem, start = [], 0
        for row in rows:
            per_problem.append(scores[start: start + len(row.samples)])
            start += len(row.samples)
        return per_problem

    def evaluate(self) -> dict[str, float]:
        """Pairwise accuracy, AUC and best-of-n accuracy of the held-out labels' samples."""
        from eval.rerank import best_of_n, pairwise_accuracy, roc_auc

        scores = self.score_rows(self.eval_rows)
        correct = [[s["correct"] for s in row.samples] for row in self.eval_rows]
        return {"eval/pairwise_accuracy": pairwise_accuracy(list(zip(scores, correct))),
                "eval/auc": roc_auc([s for row in scores for s in row], [c for row in correct for c in row]),
                "eval/best_of_n": sum(c[best_of_n(s)] for s, c in zip(scores, correct)) / max(1, len(correct)),
                "eval/mean_accuracy": sum(map(sum, correct)) / max(1, sum(map(len, correct)))}

    def train(self) -> dict[str, float]:
        c = self.config
        print(format_config(c), flush=True)
        print(f"rm: {label_stats(self.train_rows)} train, {label_stats(self.eval_rows)} held out; "
              f"{len(self.examples)} {c.train.loss} examples; {self.max_steps} steps"
              + (f"; resuming from {self.resumed_from}" if self.resumed_from else ""), flush=True)
        final: dict[str, float] = {}
        bar = tqdm(total=self.max_steps, initial=self.step, desc="rm", disable=not self.progress, dynamic_ncols=True)
        done = finished(self.step, self.max_steps, self.clock)
        while not done:
            with self.clock.step():
                metrics = self.train_step()
            done = finished(self.step, self.max_steps, self.clock)
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss/train']:.3f}")
            if self.step % c.tracking.log_every == 0 or done:
                self.tracker.log(self.step, metrics)
            if due(self.step, c.eval_every, done):
                final = self.evaluate()
                self.tracker.log(self.step, final)
            if due(self.step, c.checkpoint_every, done):
                self.save()
        bar.close()
        if not final:  # resumed after the last step's checkpoint
            final = self.evaluate()
        return finish_run(self, "rm", c.tracking.plot_keys or PLOT_KEYS, final)

    def save(self) -> Path:
        self.tracker.flush()
        return save_checkpoint(self.run_dir, self.step, self.model, self.tokenizer, optimizer=self.optimizer,
                               scheduler=self.scheduler, data_state={"step": self.step}, meta=self.meta,
                               extra={"spent_seconds": self.clock.spent()},
                               keep_checkpoints=self.config.keep_checkpoints)


def run_rm(config: RMConfig, progress: bool = True) -> dict[str, float]:
    """Run (or resume) ``satori rm``; returns the final held-out metrics."""
    return RMTrainer(config, progress=progress).train()
