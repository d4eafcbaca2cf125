"""The `satori` command.

Subcommands are registered where they are defined: each is an entry point of the
``satori.commands`` group (``NAME = module`` under ``[options.entry_points]`` in ``setup.cfg``)
naming a module that exposes ``HELP`` (its one-line help), ``add_arguments(parser)`` and
``run(args) -> int``. ``satori --help`` reads each module's ``HELP`` from its source without
importing the module or its packages, so it stays fast and never imports torch, Ray or vLLM;
a module is imported only when its subcommand runs. A registered module that cannot be found is
listed as unavailable, and running a subcommand whose module fails to import is an error that
names the subcommand, the module and the import error.
"""

from __future__ import annotations

import argparse
import ast
import sys
from importlib.machinery import ModuleSpec
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Sequence

GROUP = "satori.commands"


class CommandUnavailable(Exception):
    """A registered subcommand whose module cannot be imported, or lacks ``add_arguments``/``run``."""


def registered() -> list[EntryPoint]:
    """The subcommands installed distributions register, in registration order (the first of a name wins)."""
    commands: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=GROUP):
        commands.setdefault(entry_point.name, entry_point)
    return list(commands.values())


def help_line(entry_point: EntryPoint) -> str:
    """The subcommand's one-line help, read from its module's source without running any of it.

    The module's ``HELP`` string, else the first line of its docstring; a module that cannot be
    found or read is marked unavailable with the reason.
    """
    spec = _find_spec(entry_point.module)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
        return f"[unavailable: module {entry_point.module} not found]"
    try:
        tree = ast.parse(spec.loader.get_source(spec.name) or "", filename=spec.origin or spec.name)
    except (ImportError, OSError, SyntaxError, ValueError) as exc:
        return f"[unavailable: module {entry_point.module} cannot be read: {exc}]"
    for node in tree.body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["HELP"]
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    return (ast.get_docstring(tree) or "").strip().split("\n", 1)[0]


def _find_spec(name: str) -> ModuleSpec | None:
    """``importlib.util.find_spec(name)`` without importing the parent packages (which it would)."""
    spec: ModuleSpec | None = None
    for depth in range(1, name.count(".") + 2):
        path = None if spec is None else spec.submodule_search_locations
        if spec is not None and path is None:  # a parent that is a module, not a package
            return None
        fullname = ".".join(name.split(".")[:depth])
        spec = next((found for finder in sys.meta_path if hasattr(finder, "find_spec")
                     if (found := finder.find_spec(fullname, path)) is not None), None)
        if spec is None:
            return None
    return spec


def load_command(entry_point: EntryPoint) -> ModuleType:
    """Import the subcommand's module; :class:`CommandUnavailable` says which and why when that fails."""
    try:
        module = entry_point.load()
    except Exception as exc:  # whatever the import raised, the subcommand cannot run
        raise CommandUnavailable(
            f"subcommand '{entry_point.name}' is unavailable: its module {entry_point.value} failed to import "
            f"({type(exc).__name__}: {exc})") from exc
    missing = [name for name in ("add_arguments", "run") if not callable(getattr(module, name, None))]
    if missing:
        raise CommandUnavailable(f"subcommand '{entry_point.name}' is unavailable: its module {entry_point.value} "
                                 f"has no {' or '.join(missing)}()")
    return module


def build_parser(commands: Sequence[EntryPoint]) -> argparse.ArgumentParser:
    """The top-level parser; it lists ``commands`` with their help lines and imports none of them."""
    parser = argparse.ArgumentParser(
        prog="satori",
        description="Train language models to reason with Chain-of-Action-Thought.",
        epilog=None if commands else f"No subcommands are registered (entry point group {GROUP}): "
                                     "install this package, e.g. pip install -e .",
    )
    parser.add_argument("--version", action="version", version=f"satori {__import__('satori').__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry_point in commands:
        sub.add_parser(entry_point.name, help=help_line(entry_point), add_help=False)
    return parser


def main(argv: list[str] | None = None, commands: Sequence[EntryPoint] | None = None) -> int:
    """Run ``satori ARGV``; ``commands`` defaults to the registered subcommands."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = registered() if commands is None else list(commands)
    by_name = {entry_point.name: entry_point for entry_point in commands}
    if not argv or argv[0] not in by_name:
        build_parser(commands).parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    try:
        module = load_command(by_name[name])
    except CommandUnavailable as exc:
        print(f"satori: error: {exc}", file=sys.stderr)
        return 1
    sub_parser = argparse.ArgumentParser(prog=f"satori {name}", description=getattr(module, "HELP", None))
    module.add_arguments(sub_parser)
    return int(module.run(sub_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
