"""How much device memory a PPO run needs, before anything is loaded: ``satori rl CONFIG --dry-run``.

The plan counts parameters exactly (the model is built on the ``meta`` device from its config, no
weights read) and estimates, per learner device and per rollout engine:

- trained models (actor; critic when the estimator needs one): weights, gradients and AdamW's two
  moments in the precision's parameter dtype (fp32 for ``fp32`` and ``bf16-mixed``, bf16 for
  ``bf16-pure``); every learner holds a full replica (gradients are all-reduced, nothing is sharded);
- the frozen reference policy (only when ``algo.kl_coef > 0``) in the compute dtype;
- activations of one micro-batch of ``micro_batch_size`` sequences of ``max_prompt_len +
  max_new_tokens`` tokens: about ``34·h`` values per token per layer with memory-efficient attention
  (Korthikanti et al. 2022, without the attention-score term), kept for every layer without gradient
  checkpointing and only each layer's input (plus one layer's worth during recomputation) with it; and
  the ``(batch, tokens, vocab)`` logits with their gradient;
- engines: weights in the rollout dtype plus the KV cache vLLM is given (``gpu_memory_utilization`` of
  the device, weights included). Colocated engines sleep while learners train, so a shared device peaks
  at the larger of the two phases; without sleep it would hold both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024 ** 3
ACTIVATION_VALUES_PER_TOKEN_LAYER = 34   # per hidden unit; Korthikanti et al. 2022, flash attention


@dataclass
class PlanRow:
    where: str      # "learner" or "engine"
    item: str
    gib: float


def count_parameters(model_config: Any) -> tuple[int, int]:
    """``(all parameters, of which output head)`` of the causal LM ``model_config`` describes, built on
    the meta device (no memory, no weights read). A tied output head counts as 0."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    total = sum(p.numel() for p in model.parameters())        # tied weights are counted once
    head = model.get_output_embeddings()
    tied = head is None or head.weight is model.get_input_embeddings().weight
    return total, 0 if tied else head.weight.numel()


def plan_rows(config: Any, model_config: Any) -> list[PlanRow]:
    """Per-device memory items of ``config`` (an ``RLConfig``) for the architecture ``model_config``."""
    import torch

    from train.precision import compute_dtype, param_dtype

    precision = config.model.precision
    weight_bytes = param_dtype(precision).itemsize
    compute_bytes = getattr(torch, compute_dtype(precision)).itemsize
    params, head = count_parameters(model_config)
    hidden, layers = model_config.hidden_size, model_config.num_hidden_layers
    vocab = model_config.vocab_size
    rows = [PlanRow("learner", f"actor weights ({params / 1e9:.2f}B params, {weight_bytes} B each)",
                    params * weight_bytes / GIB),
            PlanRow("learner", "actor gradients", params * weight_bytes / GIB),
            PlanRow("learner", "actor AdamW moments (2 per weight)", 2 * params * weight_bytes / GIB)]
    if config.uses_critic:
        critic = params - head + hidden + 1        # the backbone and a value head
        rows += [PlanRow("learner", f"critic weights, gradients, AdamW moments ({critic / 1e9:.2f}B params)",
                         4 * critic * weight_bytes / GIB)]
    if config.algo.kl_coef > 0:
        rows.append(PlanRow("learner", "reference policy (frozen)", params * compute_bytes / GIB))
    tokens = config.algo.micro_batch_size * (config.data.max_prompt_len + config.rollout.max_new_tokens)
    per_layer = tokens * hidden * ACTIVATION_VALUES_PER_TOKEN_LAYER * compute_bytes
    if config.model.gradient_checkpointing:
        rows.append(PlanRow("learner", "activations, checkpointed (layer inputs + one layer)",
                            (layers * tokens * hidden * compute_bytes + per_layer) / GIB))
    else:
        rows.append(PlanRow("learner", "activations, all layers kept", layers * per_layer / GIB))
    rows.append(PlanRow("learner", "logits and their gradient (one micro-batch)", 2 * tokens * vocab * compute_bytes / GIB))
    rollout_bytes = getattr(torch, config.rollout_dtype).itemsize
    tensor_parallel = config.resources.tensor_parallel
    rows.append(PlanRow("engine", f"engine weights per shard (tensor parallel {tensor_parallel})",
                        params * rollout_bytes / tensor_parallel / GIB))
    return rows


def format_plan(config: Any, model_config: Any, device_gib: float) -> tuple[str, bool]:
    """The plan as a table and whether it fits devices of ``device_gib`` GiB."""
    rows = plan_rows(config, model_config)
    learner = sum(r.gib for r in rows if r.where == "learner")
    on_gpu = config.resources.gpus_per_engine > 0
    engine_budget = config.rollout.gpu_memory_utilization * device_gib if on_gpu else 0.0
    engine_weights = sum(r.gib for r in rows if r.where == "engine")
    engine = max(engine_budget, engine_weights)
    lines = [f"{'where':<8} {'item':<64} {'GiB':>8}", "-" * 82]
    lines += [f"{r.where:<8} {r.item:<64} {r.gib:>8.2f}" for r in rows]
    if on_gpu:
        lines.append(f"{'engine':<8} {'vLLM budget (gpu_memory_utilization x device, weights + KV cache)':<64} "
                     f"{engine_budget:>8.2f}")
    lines.append("-" * 82)
    lines.append(f"{'learner':<8} {'per learner device':<64} {learner:>8.2f}")
    if config.resources.colocate:
        peak = max(learner, engine)
        lines.append(f"{'shared':<8} {'colocated device peak (engine sleeps while learners train)':<64} {peak:>8.2f}")
        lines.append(f"{'shared':<8} {'(the same device without sleeping engines)':<64} {learner + engine:>8.2f}")
        devices = {"colocated device": peak}
    else:
        devices = {"learner device": learner}
        if on_gpu:
            lines.append(f"{'engine':<8} {'per engine device':<64} {engine:>8.2f}")
            devices["engine device"] = engine
    fits = all(gib <= device_gib for gib in devices.values())
    verdict = ", ".join(f"{name} {gib:.1f} GiB" for name, gib in devices.items())
    lines.append(f"{'fits' if fits else 'does NOT fit'} on {device_gib:g} GiB devices: {verdict}")
    if not fits:
        lines.append("every learner holds a full replica of the trained models; for models this size use "
                     "--engine openrlhf (DeepSpeed ZeRO-3 shards weights, gradients and optimizer state)")
    return "\n".join(lines), fits
