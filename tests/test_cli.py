"""The `satori` command: subcommands come from the `satori.commands` entry points and are imported lazily."""

import argparse
import re
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from satori.cli import GROUP, CommandUnavailable, help_line, load_command, main, registered

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ("grade", "synth", "pretrain", "sft", "rl", "eval", "run", "teach", "rm", "view")
STAGE_PACKAGES = ("train", "eval", "data_synthesis")


@pytest.mark.slow  # a Python subprocess importing the CLI
def test_help_imports_no_stage_module():
    """`satori --help` lists every subcommand with its help line, importing none of their packages."""
    code = textwrap.dedent(f"""
        import contextlib, io, sys
        import satori.cli
        satori.cli.build_parser(satori.cli.registered())
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            satori.cli.main(["--help"])
        print(sorted(m for m in sys.modules if m.split(".")[0] in {STAGE_PACKAGES!r}))
        print(out.getvalue())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    imported, help_text = out.stdout.split("\n", 1)
    assert imported == "[]"
    commands = {entry_point.name: entry_point for entry_point in registered()}
    for name in EXPECTED:
        assert re.search(rf"^\s+{name}\s+{re.escape(help_line(commands[name]))}$", help_text, re.M), name


def test_satori_cli_names_no_stage_module():
    source = (ROOT / "satori" / "cli.py").read_text()
    assert not re.findall(rf"\b(?:{'|'.join(STAGE_PACKAGES)})\.\w", source)


def test_every_subcommand_is_registered_and_its_module_runs_it():
    commands = {entry_point.name: entry_point for entry_point in registered()}
    assert sorted(commands) == sorted(EXPECTED)
    assert len({entry_point.value for entry_point in commands.values()}) == len(commands)
    for name in EXPECTED:
        module = load_command(commands[name])
        assert callable(module.add_arguments) and callable(module.run), name
        assert module.HELP and help_line(commands[name]) == module.HELP, name
        module.add_arguments(argparse.ArgumentParser())


@pytest.mark.slow  # a Python subprocess importing the CLI
def test_subcommand_modules_import_light():
    code = ("import sys, satori.cli;"
            "[satori.cli.load_command(ep) for ep in satori.cli.registered()];"
            "print(','.join(m for m in ('torch', 'ray', 'vllm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


@pytest.mark.slow  # a Python subprocess importing the CLI
def test_import_satori_is_light():
    code = ("import sys, satori, satori.cli, satori.coat, satori.config, satori.problems, satori.prompts;"
            "heavy = [m for m in ('torch', 'ray', 'vllm', 'transformers', 'datasets') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_module_that_fails_to_import_is_a_clear_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "satori_broken_command.py").write_text(
        'HELP = "a command whose import fails"\nimport satori_no_such_dependency\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = EntryPoint(name="broken", value="satori_broken_command", group=GROUP)

    assert help_line(broken) == "a command whose import fails"  # read from the source, not imported
    assert "satori_broken_command" not in sys.modules
    with pytest.raises(CommandUnavailable) as error:
        load_command(broken)
    assert all(part in str(error.value) for part in ("'broken'", "satori_broken_command", "satori_no_such_dependency"))

    assert main(["broken", "x"], commands=[broken]) == 1
    assert "satori: error: subcommand 'broken'" in capsys.readouterr().err


def test_a_missing_module_is_listed_as_unavailable(capsys):
    ghost = EntryPoint(name="ghost", value="satori_no_such_command_module", group=GROUP)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"], commands=[ghost])
    assert exit_info.value.code == 0
    assert re.search(r"ghost\s+\[unavailable: module satori_no_such_command_module not found\]",
                     capsys.readouterr().out)
    assert main(["ghost"], commands=[ghost]) == 1
    assert "satori_no_such_command_module" in capsys.readouterr().err


@pytest.mark.parametrize("name", [name for name in EXPECTED if name not in ("grade", "view")])  # no config
def test_a_stage_reports_a_key_to_fix_on_stderr_with_exit_code_2(name, capsys):
    assert main([name, "no_such_key=1"]) == 2
    assert re.search(rf"^satori {name}: .*unknown key 'no_such_key'", capsys.readouterr().err, re.M)


def test_eval_refuses_a_k_flag_that_is_not_numbers(capsys):
    assert main(["eval", "--model", "m=x", "--k", "1,four"]) == 2
    assert "satori eval: --k '1,four' must be comma-separated whole numbers" in capsys.readouterr().err
