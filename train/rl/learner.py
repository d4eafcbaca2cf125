"""The PPO learner: holds actor, critic and reference, scores batches and takes PPO steps.

Plain Python (the Ray layer wraps it as an actor). With ``world_size > 1`` several learners
form a torch.distributed group (gloo on CPU, NCCL on GPU): each takes rows
``rank::world_size`` of every mini-batch, losses are divided by the mini-batch's *global*
token count, and gradients are summed across ranks, so N learners take exactly the step one
learner would take on the whole mini-batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from satori.run_config import set_threads
from train.algorithms.kl import kl_estimate
from train.algorithms.logprobs import entropy_from_logits, masked_mean, token_logprobs
from train.algorithms.losses import aggregate, policy_loss, value_loss
from train.precision import autocast, compute_dtype, param_dtype, training_device
from train.rl.batch import logprob_mismatch, select
from train.rl.config import RLConfig
from train.rl.models import ValueModel, load_policy


class Learner:
    """Actor (+ critic for GAE, + frozen reference when a KL term is on) and their optimizers."""

    def __init__(self, config: RLConfig, policy_path: str | None = None, critic_path: str | None = None,
                 rank: int = 0, world_size: int = 1, init_method: str | None = None):
        self.config = config
        self.rank, self.world_size = rank, world_size
        set_threads(config.threads)
        torch.manual_seed(config.seed + rank)
        if world_size > 1:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
        self.device = training_device()
        precision = config.model.precision
        trained, frozen = param_dtype(precision), getattr(torch, compute_dtype(precision))
        policy_path = policy_path or config.model.policy
        self.actor = load_policy(policy_path, trained).to(self.device)
        self.reference = load_policy(config.model.policy, frozen).to(self.device).eval() if config.algo.kl_coef > 0 else None
        self.critic = None
        if config.uses_critic:
            self.critic = ValueModel.from_pretrained(critic_path or config.model.critic or policy_path, trained).to(self.device)
        for model in (self.actor, self.critic):
            if model is not None:
                if config.model.gradient_checkpointing:
                    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                model.train()  # transformers checkpoints only in training mode (dropout is off from loading)
        algo = config.algo
        self.actor_optim = torch.optim.AdamW(self.actor.parameters(), lr=algo.actor_lr, weight_decay=algo.weight_decay)
        self.critic_optim = (torch.optim.AdamW(self.critic.parameters(), lr=algo.critic_lr, weight_decay=algo.weight_decay)
                             if self.critic is not None else None)
        warmup = max(algo.warmup_steps, 0)
        schedule = lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0  # noqa: E731
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(o, schedule)
                           for o in (self.actor_optim, self.critic_optim) if o is not None]
        self.updates = 0

    def autocast(self):
        """The context every forward pass runs in: bf16 autocast under ``model.precision=bf16-mixed``."""
        return autocast(self.config.model.precision, self.device.type)

    # ----------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def score(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """This rank's rows of ``logprobs_old``, ``values_old``, ``logprobs_ref`` ``(b, L-1)``."""
        rows = self._shard_rows(torch.arange(batch["input_ids"].shape[0]))
        out: dict[str, list[torch.Tensor]] = {}
        order: list[torch.Tensor] = []
        temperature = self.config.rollout.temperature
        for index, micro in self._micro_batches(select(batch, rows)):
            order.append(index)
            ids, attn = micro["input_ids"].to(self.device), micro["attention_mask"].to(self.device)
            labels = micro["labels"].to(self.device)
            with self.autocast():
                logits = self.actor(input_ids=ids, attention_mask=attn).logits[:, :-1]
            out.setdefault("logprobs_old", []).append(token_logprobs(logits, labels, temperature).cpu())
            if self.reference is not None:
                with self.autocast():
                    ref_logits = self.reference(input_ids=ids, attention_mask=attn).logits[:, :-1]
                out.setdefault("logprobs_ref", []).append(token_logprobs(ref_logits, labels, temperature).cpu())
            if self.critic is not None:
                with self.autocast():
                    values = self.critic(ids, attn)[:, :-1]
                out.setdefault("values_old", []).append(values.cpu())
        width = batch["labels"].shape[1]  # micro-batches drop padding columns; pad back to (b, L-1)
        back = torch.cat(order).argsort() if order else None   # micro-batches go longest first; back to row order
        return {"rows": rows, **{key: torch.cat([nn.functional.pad(p, (0, width - p.shape[1])) if p.dim() == 2 else p
                                                 for p in parts])[back] for key, parts in out.items()}}

    # ----------------------------------------------------------------------------- update
    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """PPO epochs over ``batch`` (the whole batch; this rank takes its share of each mini-batch)."""
        algo = self.config.algo
        size = batch["input_ids"].shape[0]
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.updates)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for _ in range(algo.ppo_epochs):
            order = torch.randperm(size, generator=generator)
            for mini in order.chunk(algo.mini_batches):
                for key, value in self._mini_batch_step(select(batch, mini)).items():
                    sums[key] = sums.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + 1
        for scheduler in self.schedulers:
            scheduler.step()
        self.updates += 1
        metrics = {key: value / counts[key] for key, value in sums.items()}
        metrics["loss/actor_lr"] = self.actor_optim.param_groups[0]["lr"]
        return metrics

    def _mini_batch_step(self, mini: dict[str, torch.Tensor]) -> dict[str, float]:
        algo, temperature = self.config.algo, self.config.rollout.temperature
        mask_all = mini["action_mask"]
        counts = {"global_token_count": int(mask_all.sum()),
                  "global_sequence_count": int((mask_all.sum(-1) > 0).sum())}
        reduce_kwargs = ({"global_token_count": max(counts["global_token_count"], 1)} if algo.loss_agg == "token_mean"
                         else {"global_sequence_count": max(counts["global_sequence_count"], 1)})
        self.actor_optim.zero_grad(set_to_none=True)
        if self.critic_optim is not None:
            self.critic_optim.zero_grad(set_to_none=True)
        stats: dict[str, list[float]] = {}
        mine = select(mini, self._shard_rows(torch.arange(mask_all.shape[0])))
        for _, micro in self._micro_batches(mine):
            ids, attn = micro["input_ids"].to(self.device), micro["attention_mask"].to(self.device)
            mask = micro["action_mask"].to(self.device)
            weight = mask.sum().item() / max(counts["global_token_count"], 1)
            with self.autocast():
                logits = self.actor(input_ids=ids, attention_mask=attn).logits[:, :-1]
            logprobs = token_logprobs(logits, micro["labels"].to(self.device), temperature)
            if "logprobs_old" in micro:
                logprobs_old = micro["logprobs_old"].to(self.device)
            else:  # a single update on fresh samples: the policy that sampled them is this one
                logprobs_old = logprobs.detach()
                self._accumulate(stats, weight, {"rollout/logprob_mismatch": logprob_mismatch(
                    logprobs_old, micro["rollout_logprobs"].to(self.device), mask)})
            out = policy_loss(logprobs, logprobs_old, micro["advantages"].to(self.device),
                              mask, algo.clip_eps_low, algo.clip_eps_high, algo.dual_clip)
            loss = aggregate(out.loss, mask, algo.loss_agg, **reduce_kwargs)
            entropy = entropy_from_logits(logits, temperature) if algo.entropy_coef > 0 else None
            if entropy is not None:
                loss = loss - algo.entropy_coef * aggregate(entropy, mask, algo.loss_agg, **reduce_kwargs)
            if algo.kl_mode == "loss" and algo.kl_coef > 0:
                kl = kl_estimate(algo.kl_estimator, logprobs, micro["logprobs_ref"].to(self.device))
                loss = loss + algo.kl_coef * aggregate(kl, mask, algo.loss_agg, **reduce_kwargs)
            loss.backward()
            with torch.no_grad():
                if entropy is None:
                    entropy = entropy_from_logits(logits.detach(), temperature)
                self._accumulate(stats, weight, {"loss/policy": loss.item() / max(weight, 1e-12),
                                                 "loss/entropy": masked_mean(entropy, mask).item(),
                                                 **{f"loss/{k}": v for k, v in out.stats(mask).items()}})
            if self.critic is not None:
                with self.autocast():
                    values = self.critic(ids, attn)[:, :-1]
                vout = value_loss(values, micro["values_old"].to(self.device), micro["returns"].to(self.device),
                                  mask, algo.value_clip)
                vloss = aggregate(vout.loss, mask, algo.loss_agg, **reduce_kwargs)
                vloss.backward()
                self._accumulate(stats, weight, {"loss/value": vloss.item() / max(weight, 1e-12),
                                                 **{f"loss/{k}": v for k, v in vout.stats(mask).items()}})
        metrics = self._reduce_stats(stats)
        metrics["loss/actor_grad_norm"] = self._step(self.actor, self.actor_optim)
        if self.critic is not None:
            metrics["loss/critic_grad_norm"] = self._step(self.critic, self.critic_optim)
        return metrics

    def _step(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> float:
        params = [p for p in model.parameters() if p.requires_grad]
        if self.world_size > 1:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.algo.max_grad_norm)
        optimizer.step()
        return float(norm)

    def _accumulate(self, stats: dict[str, list[float]], weight: float, values: dict[str, float]) -> None:
        """``stats[key] = [sum of weight * value, sum of weight]`` over micro-batches (NaN values left out),
        ``weight`` being the micro-batch's share of the mini-batch's tokens."""
        for key, value in values.items():
            if not math.isnan(value):
                total = stats.setdefault(key, [0.0, 0.0])
                total[0] += weight * value
                total[1] += weight

    def _reduce_stats(self, stats: dict[str, list[float]]) -> dict[str, float]:
        """Token-weighted means over the whole mini-batch (every rank's share) of :meth:`_accumulate`'s sums.

        Ranks can hold different keys (a rank without rows holds none, a NaN value drops one), so they
        first agree on the union of their keys; then one all-reduce of the ``(keys, 2)`` sums and weights.
        A key no rank has a value for is left out.
        """
        keys = sorted(stats)
        if self.world_size > 1:
            key_lists: list[list[str] | None] = [None] * self.world_size
            dist.all_gather_object(key_lists, keys)
            keys = sorted(set().union(*key_lists))
        totals = torch.tensor([stats.get(key, [0.0, 0.0]) for key in keys], dtype=torch.float64,
                              device=self.device).reshape(len(keys), 2)
        if self.world_size > 1:
            dist.all_reduce(totals, op=dist.ReduceOp.SUM)
        return {key: value / weight for key, (value, weight) in zip(keys, totals.tolist()) if weight > 0}

    def _shard_rows(self, rows: torch.Tensor) -> torch.Tensor:
        return rows[self.rank:: self.world_size]

    def _micro_batches(self, batch: dict[str, torch.Tensor]):
        """``(index, micro)`` pairs: ``micro`` holds the rows ``index`` of ``batch``, at most
        ``algo.micro_batch_size`` of them, cut to their longest row. Rows go longest first, so rows of
        similar length share a micro-batch and little padding is computed (the order of micro-batches
        does not change a mini-batch's summed gradient)."""
        lengths = batch["attention_mask"].sum(-1)
        order = torch.argsort(lengths, descending=True, stable=True)
        for index in order.split(self.config.algo.micro_batch_size) if len(order) else ():
            micro = {k: v[index] for k, v in batch.items()}
            width = int(lengths[index].max())  # drop all-padding columns
            yield index, {k: (v[:, :width] if k in ("input_ids", "attention_mask") else
                              v[:, : width - 1] if v.dim() == 2 else v) for k, v in micro.items()}

    # ----------------------------------------------------------------------------- state
    def policy_state_dict(self, dtype: str | None = None) -> dict[str, torch.Tensor]:
        """The actor's weights on CPU (Hugging Face names), for syncing rollout engines: in ``dtype``
        ("float32", "bfloat16": the engines' dtype) or as the learner holds them."""
        cast = getattr(torch, dtype) if dtype else None
        return {k: v.detach().to("cpu", dtype=cast, copy=True) for k, v in self.actor.state_dict().items()}

    def save(self, directory: str | Path, tokenizer: Any = None) -> None:
        """Write ``actor/`` and ``critic/`` HF folders and ``learner_state.pt`` (optimizers, schedulers, RNG)."""
        directory = Path(directory)
        self.export_policy(directory / "actor", tokenizer)
        if self.critic is not None:
            self.critic.save_pretrained(directory / "critic")
        torch.save({"actor_optim": self.actor_optim.state_dict(),
                    "critic_optim": self.critic_optim.state_dict() if self.critic_optim else None,
                    "schedulers": [s.state_dict() for s in self.schedulers],
                    "updates": self.updates, "torch_rng": torch.get_rng_state()},
                   directory / "learner_state.pt")

    def export_policy(self, directory: str | Path, tokenizer: Any = None) -> None:
        """The actor as a Hugging Face folder (with the tokenizer when given)."""
        self.actor.save_pretrained(directory)
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)

    def load_state(self, directory: str | Path) -> None:
        """Restore optimizers, schedulers and RNG saved by :meth:`save` (weights come from the folders)."""
        state = torch.load(Path(directory) / "learner_state.pt", map_location="cpu", weights_only=False)
        self.actor_optim.load_state_dict(state["actor_optim"])
        if self.critic_optim is not None and state["critic_optim"] is not None:
            self.critic_optim.load_state_dict(state["critic_optim"])
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        self.updates = state["updates"]
        torch.set_rng_state(state["torch_rng"])
