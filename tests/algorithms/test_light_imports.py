"""The pure-algorithm modules stay light: torch only, and the reward shaping not even torch."""

import ast
import subprocess
import sys
from pathlib import Path

import train.algorithms

ALGORITHMS = Path(train.algorithms.__file__).parent
ALLOWED = {"__future__", "dataclasses", "math", "torch", "train"}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports (any import statement, anywhere in the file)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            packages.add(node.module.split(".")[0])
            assert node.module.split(".")[0] != "train" or node.module.startswith("train.algorithms"), node.module
    return packages


def test_algorithm_modules_import_torch_and_each_other_only():
    modules = sorted(ALGORITHMS.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        assert imported_packages(path) <= ALLOWED, path.name


def test_rewards_module_does_not_import_torch():
    code = "import sys, satori.rewards; print([m for m in ('torch', 'ray', 'vllm', 'transformers') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
