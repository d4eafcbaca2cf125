"""Tiny tokenizers and models built locally: the embedded default and the test fixtures.

Nothing is downloaded. The tokenizer is a byte-level BPE trained on a corpus with the COAT
action tokens as single special tokens; the model is a small Qwen2- or Llama-style decoder
with head size 64 so vLLM's CPU build can serve it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from satori.coat import ACTION_TOKENS

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
QWEN2_PRETOKENIZE_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                           r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
# Seed text so every tokenizer knows digits, operators and the words of the prompt templates.
BASE_CORPUS = (
    "0 1 2 3 4 5 6 7 8 9 10 100 + - * / = ( ) [ ] { } . , : ; ? ! ^ _ $ % \\boxed{} \\frac{}{} "
    "Solve the following math problem efficiently and clearly. Please reason step by step, "
    "and put your final answer within \\boxed{}. Problem: The answer is Let me check Wait "
    "Step First Then So Therefore compute multiply add subtract divide equation x y n value"
)


def build_tokenizer(corpus: Iterable[str] = (), vocab_size: int = 512) -> Any:
    """Train a byte-level BPE tokenizer on ``corpus``; returns a ``PreTrainedTokenizerFast``.

    Special tokens: ``<|bos|>``, ``<|eos|>``, ``<|pad|>`` and the three action tokens, each one id.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, *ACTION_TOKENS]
    tokenizer = Tokenizer(models.BPE())
    # The same normalizer and pre-tokenizer as transformers' Qwen2Tokenizer, which AutoTokenizer picks for
    # a folder whose config says qwen2: reloading the tokenizer that way then encodes identically.
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([BASE_CORPUS, *corpus], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=EOS, padding_side="left")
    return fast


def build_model(tokenizer: Any, arch: str = "qwen2", hidden_size: int = 128, num_layers: int = 2,
                num_heads: int = 2, intermediate_size: int | None = None, max_positions: int = 2048,
                seed: int = 0, tie_word_embeddings: bool = False, num_kv_heads: int | None = None) -> Any:
    """A freshly initialised causal LM sized for ``tokenizer`` (head size = hidden / heads; ``num_kv_heads``
    below ``num_heads`` gives grouped-query attention)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    classes = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}
    if arch not in classes:
        raise ValueError(f"arch must be one of {sorted(classes)}, got {arch!r}")
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    config_cls, model_cls = classes[arch]
    config = config_cls(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=num_kv_heads or num_heads,
        intermediate_size=intermediate_size or 4 * hidden_size, max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=tie_word_embeddings,
    )
    torch.manual_seed(seed)
    model = model_cls(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.float()
