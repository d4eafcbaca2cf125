"""Shared test fixtures: tiny tokenizer/model built in-process, paths to the shared benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    if not BENCHMARKS.is_dir():
        pytest.fail(f"shared benchmarks not found at {BENCHMARKS}; clone the project beside shared/")
    return BENCHMARKS


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from satori.tiny import build_tokenizer

    corpus = [f"<|continue|>{a} + {b} = {a + b}.\n<|reflect|>Check: ok.\n<|continue|>\\boxed{{{a + b}}}"
              for a in range(20) for b in range(20)]
    return build_tokenizer(corpus, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    from satori.tiny import build_model

    return build_model(tiny_tokenizer, hidden_size=128, num_layers=2, num_heads=2, seed=0)


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory, tiny_tokenizer, tiny_model):
    """``tiny_model`` and its tokenizer saved as a Hugging Face folder."""
    path = tmp_path_factory.mktemp("policy")
    tiny_model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_orm_dir(tmp_path_factory, tiny_tokenizer, tiny_policy_dir):
    """A tiny outcome reward model folder: the tiny policy's backbone with a fresh one-output score head."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from satori.models import write_satori_meta

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_policy_dir, num_labels=1,
                                                               pad_token_id=tiny_tokenizer.pad_token_id)
    path = tmp_path_factory.mktemp("orm")
    model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    write_satori_meta(path, {"stage": "rm", "template": "satori", "max_length": 256})
    return path
