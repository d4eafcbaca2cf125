"""The models a PPO learner holds: the policy (a causal LM) and the critic (backbone + value head).

Both load with every dropout probability at 0: the learner trains them in training mode (transformers
checkpoints activations only there), and a PPO ratio must compare the network with itself.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

VALUE_HEAD_FILE = "value_head.pt"


class ValueModel(nn.Module):
    """A transformer backbone with a scalar head: ``(B, T)`` ids -> ``(B, T)`` values.

    ``values[:, t]`` estimates the return from the state after token ``t``. The head starts
    at zero so early values do not swamp the advantages.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.value_head = nn.Linear(backbone.config.hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> "ValueModel":
        """The backbone of the causal LM (or critic) at ``path``; its value head when saved there."""
        from transformers import AutoModel

        model = cls(AutoModel.from_pretrained(path, dtype=dtype, config=config_without_dropout(path)))
        head = Path(path) / VALUE_HEAD_FILE
        if head.is_file():
            model.value_head.load_state_dict(torch.load(head, map_location="cpu", weights_only=True))
        return model.to(dtype)

    def gradient_checkpointing_enable(self, **kwargs) -> None:
        """Recompute the backbone's layer activations in the backward pass (transformers' own switch)."""
        self.backbone.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, path: str | Path) -> None:
        self.backbone.save_pretrained(path)
        torch.save(self.value_head.state_dict(), Path(path) / VALUE_HEAD_FILE)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)
        return self.value_head(hidden).squeeze(-1).float()


def load_policy(path: str | Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The causal LM at ``path`` (a Hugging Face folder), dropout off."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, config=config_without_dropout(path))


def config_without_dropout(path: str | Path):
    """The model config at ``path`` with every dropout probability (``*dropout*``, ``*pdrop``) set to 0."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    for key, value in config.to_dict().items():
        if ("dropout" in key or key.endswith("pdrop")) and isinstance(value, float):
            setattr(config, key, 0.0)
    return config
