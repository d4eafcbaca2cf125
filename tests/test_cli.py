import subprocess
import sys

from satori.cli import SUBCOMMANDS


def test_help_lists_every_subcommand_and_each_module_can_run_it():
    """A subcommand whose module is missing or broken would vanish from the CLI silently."""
    import importlib

    out = subprocess.run([sys.executable, "-m", "satori.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert all(name in out.stdout for name in SUBCOMMANDS)
    for name, (module_name, _) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name


def test_import_satori_is_light():
    code = ("import sys, satori, satori.cli, satori.coat, satori.config, satori.problems, satori.prompts;"
            "heavy = [m for m in ('torch', 'ray', 'vllm', 'transformers', 'datasets') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_registered_module_name_is_unique():
    modules = [module for module, _ in SUBCOMMANDS.values()]
    assert len(modules) == len(set(modules))
