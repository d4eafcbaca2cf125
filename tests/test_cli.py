import subprocess
import sys

from satori.cli import SUBCOMMANDS


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "satori.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "grade" in out.stdout


def test_import_satori_is_light():
    code = ("import sys, satori, satori.cli, satori.coat, satori.config, satori.problems, satori.prompts;"
            "heavy = [m for m in ('torch', 'ray', 'vllm', 'transformers', 'datasets') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_registered_module_name_is_unique():
    modules = [module for module, _ in SUBCOMMANDS.values()]
    assert len(modules) == len(set(modules))
