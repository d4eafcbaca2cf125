"""Training precision, one setting for every stage: ``model.precision`` in sft, pretrain, rl and teach.

- ``fp32``: float32 weights, optimizer state and compute.
- ``bf16-mixed``: float32 master weights and optimizer state; the forward (and so the backward) runs
  under bf16 autocast (``torch.autocast`` on the model's device: CPU or CUDA). Frozen models (the
  PPO reference, the teacher's student scorer) hold bf16 weights: they take no optimizer steps.
- ``bf16-pure``: bf16 weights and optimizer state, half the memory of the master copy. An AdamW step
  moves a weight by about ``lr``; bf16 keeps 8 significant bits, so a weight ``w`` only moves when
  ``lr`` reaches half its spacing ``2^(floor(log2|w|) - 7)``. For a typical weight of magnitude 0.02
  that is ``2^-14 ≈ 6.1e-5``; pure bf16 is refused below it (at the paper's actor lr 2e-7 almost
  every step rounds back to the old weight).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, Literal

from satori.config import require

Precision = Literal["fp32", "bf16-mixed", "bf16-pure"]
TYPICAL_WEIGHT = 0.02   # initializer_range of Qwen2 / Llama, and the std of trained linear weights


def bf16_spacing(magnitude: float) -> float:
    """Distance between adjacent bf16 numbers at ``magnitude`` (8 significant bits)."""
    return 2.0 ** (math.floor(math.log2(magnitude)) - 7)


MIN_BF16_PURE_LR = bf16_spacing(TYPICAL_WEIGHT) / 2   # 2^-14 ≈ 6.1e-5


def check_learning_rate(precision: str, lr: float, lr_key: str) -> None:
    """Refuse ``bf16-pure`` when an optimizer step of ``lr`` would round away on typical weights."""
    spacing = bf16_spacing(TYPICAL_WEIGHT)
    require(precision != "bf16-pure" or lr >= MIN_BF16_PURE_LR, "model.precision",
            f"bf16-pure keeps weights and optimizer state in bf16; an AdamW step moves a weight by about "
            f"{lr_key} = {lr:.3g}, but a bf16 weight of magnitude {TYPICAL_WEIGHT} sits 2^{round(math.log2(spacing))} "
            f"≈ {spacing:.3g} from its neighbours, so steps below half of that ({MIN_BF16_PURE_LR:.3g}) round back "
            "to the same weight and training stops; use model.precision=bf16-mixed (fp32 master weights, bf16 compute)")


def param_dtype(precision: str) -> Any:
    """The dtype of trained weights and their optimizer state."""
    import torch

    return torch.bfloat16 if precision == "bf16-pure" else torch.float32


def compute_dtype(precision: str) -> str:
    """The dtype matrix products run in (``"float32"`` or ``"bfloat16"``): what frozen models and rollout
    engines hold to match the learner."""
    return "float32" if precision == "fp32" else "bfloat16"


def training_device() -> Any:
    """Where a stage trains: the current CUDA device when there is one, else the CPU."""
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def autocast(precision: str, device_type: str) -> Any:
    """The context a forward pass runs in: bf16 autocast on ``device_type`` ("cpu", "cuda") for bf16-mixed."""
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16) if precision == "bf16-mixed" else nullcontext()
