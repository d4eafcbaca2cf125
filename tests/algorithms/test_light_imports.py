"""The pure-algorithm modules stay light: torch only, and the reward shaping not even torch."""

import subprocess
import sys

import pytest

ALGORITHMS = "train.algorithms.advantages, train.algorithms.losses, train.algorithms.kl, train.algorithms.logprobs"


@pytest.mark.parametrize("modules, forbidden", [
    (ALGORITHMS, ("ray", "vllm", "transformers")),
    ("satori.rewards", ("torch", "ray", "vllm", "transformers")),
])
def test_modules_do_not_import_heavy_packages(modules, forbidden):
    code = f"import sys, {modules}; print(','.join(m for m in {forbidden!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
