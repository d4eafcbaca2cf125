"""The `satori` command.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``satori --help`` stays fast and never imports torch, Ray or vLLM.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("satori.grading.cli", "grade predictions against gold answers (JSONL in, JSONL out)"),
    "synth": ("data_synthesis.cli", "synthesize COAT demonstrations (stage one)"),
    "pretrain": ("train.pretrain_cli", "pretrain a tiny base model from scratch on the procedural corpus"),
    "sft": ("train.sft_cli", "format-tune a model on COAT demonstrations (stage one)"),
    "rl": ("train.rl_cli", "PPO with restart-and-explore (stage two)"),
    "eval": ("eval.cli", "benchmark checkpoints on math sets"),
    "run": ("train.pipeline_cli", "run the whole two-stage recipe from one config"),
    "teach": ("train.teach_cli", "train a teacher that writes COAT demonstrations"),
}


def add_config_arguments(parser: argparse.ArgumentParser, section: str, example: str) -> None:
    """The ``CONFIG [key=value ...]`` arguments every stage subcommand takes."""
    parser.add_argument("config", nargs="?",
                        help=f"YAML config: a stage file, or a pipeline file whose `{section}:` section is used")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help=f"overrides, e.g. {example}")


def load_stage_config(cls: type, args: argparse.Namespace, section: str | None) -> object:
    """The stage config from ``args`` (a first positional holding ``=`` is an override: no file)."""
    from satori.config import load_config

    path, overrides = args.config, list(args.overrides)
    if path is not None and "=" in path:
        path, overrides = None, [path, *overrides]
    return load_config(cls, path, overrides, section=section)


def _available() -> dict[str, tuple[str, str]]:
    """Subcommands whose module is present in this checkout."""
    found = {}
    for name, (module, help_text) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found[name] = (module, help_text)
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, tuple[str, str]]]:
    parser = argparse.ArgumentParser(
        prog="satori",
        description="Train language models to reason with Chain-of-Action-Thought.",
    )
    parser.add_argument("--version", action="version", version=f"satori {__import__('satori').__version__}")
    commands = _available()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in commands.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser()
    if not argv or argv[0] not in commands:
        parser.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(commands[name][0])
    sub_parser = argparse.ArgumentParser(prog=f"satori {name}", description=commands[name][1])
    module.add_arguments(sub_parser)
    return int(module.run(sub_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
