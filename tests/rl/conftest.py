"""Fixtures for the PPO tests: a tiny policy saved as a Hugging Face folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory, tiny_tokenizer, tiny_model):
    path = tmp_path_factory.mktemp("policy")
    tiny_model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path
