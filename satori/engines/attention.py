"""Grouped-query attention without copying the KV cache: ``attn_implementation="satori_sdpa"``.

transformers' ``sdpa`` attention repeats every key/value head ``num_attention_heads / num_key_value_heads``
times before calling ``scaled_dot_product_attention`` whenever an attention mask is given (always, for a
left-padded rollout batch): at each decode step that copies the whole KV cache of every layer. This
implementation hands the grouped heads to torch's SDPA with ``enable_gqa=True`` instead, with the same mask
and the same result; models without grouped heads take transformers' own ``sdpa`` path unchanged. Only CPU
models switch: on CUDA, torch's fused kernels take no mask with grouped heads and SDPA would fall back to its
slow reference kernel.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

NAME = "satori_sdpa"


def grouped_sdpa_forward(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                         is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention output ``(B, Q, H, D)`` from query ``(B, H, Q, D)`` and key/value ``(B, H_kv, K, D)``."""
    if getattr(module, "num_key_value_groups", 1) == 1 or kwargs.get("position_bias") is not None or kwargs.get("cache"):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    causal = query.shape[2] > 1 and attention_mask is None and causal
    output = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=causal,
        enable_gqa=True)
    return output.transpose(1, 2).contiguous(), None


def use_grouped_sdpa(model: Any) -> bool:
    """Switch a CPU transformers model from ``sdpa`` to ``satori_sdpa`` when it has grouped KV heads; True if
    switched."""
    config = model.config
    heads, kv_heads = getattr(config, "num_attention_heads", None), getattr(config, "num_key_value_heads", None)
    on_cpu = next(model.parameters()).device.type == "cpu"
    if config._attn_implementation != "sdpa" or not on_cpu or not heads or not kv_heads or heads == kv_heads:
        return False
    model.set_attn_implementation(NAME)
    return config._attn_implementation == NAME


AttentionInterface.register(NAME, grouped_sdpa_forward)
AttentionMaskInterface.register(NAME, sdpa_mask)
