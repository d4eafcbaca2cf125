"""The shared 2-worker verifier pool, used by all grading tests (and by verify/verify_batch)."""

from __future__ import annotations

import pytest

from satori.grading import shared_pool


@pytest.fixture(scope="session")
def pool():
    verifier_pool = shared_pool(2)
    verifier_pool.wait_ready()
    return verifier_pool
