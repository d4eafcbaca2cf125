"""Fixtures for the SFT tests: a small file of arithmetic COAT demonstrations made in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from sft_demos import write_demos


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    return write_demos(tmp_path_factory.mktemp("demos") / "demos.jsonl", 120)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models train fastest on one thread; more threads spin against each other on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
