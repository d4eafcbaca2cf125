"""What every stage subcommand (``satori sft``, ``satori rl``, ...) shares: ``CONFIG [key=value ...]``,
and how it reports a setting or a data file to fix.

A stage's config may be its own YAML or a pipeline YAML whose section for that stage is read;
a first positional holding ``=`` is taken as an override, so no file is needed.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Callable, Sequence

from satori.config import ConfigError, load_config
from satori.io import DataError

StageRun = Callable[[argparse.Namespace], int]


def add_config_arguments(parser: argparse.ArgumentParser, section: str, example: str) -> None:
    """The ``CONFIG [key=value ...]`` arguments every stage subcommand takes."""
    parser.add_argument("config", nargs="?",
                        help=f"YAML config: a stage file, or a pipeline file whose `{section}:` section is used")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help=f"overrides, e.g. {example}")


def load_stage_config(cls: type, args: argparse.Namespace, section: str | None,
                      flag_overrides: Sequence[str] = ()) -> object:
    """The stage config from ``args`` (a first positional holding ``=`` is an override: no file).

    ``flag_overrides`` (``key=value`` strings built from a subcommand's own flags) apply before the
    explicit overrides, so an explicit ``key=value`` wins over a flag.
    """
    path, overrides = args.config, list(args.overrides)
    if path is not None and "=" in path:
        path, overrides = None, [path, *overrides]
    return load_config(cls, path, [*flag_overrides, *overrides], section=section)


def reports_errors(command: str, *errors: type[Exception]) -> Callable[[StageRun], StageRun]:
    """Decorate a stage's ``run(args)``: a :class:`~satori.config.ConfigError`, a
    :class:`~satori.io.DataError` or one of ``errors`` it raises is printed on stderr as
    ``satori COMMAND: message`` (which names the key or row to fix) and exits with code 2."""

    def decorate(run: StageRun) -> StageRun:
        @functools.wraps(run)
        def reporting(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except (ConfigError, DataError, *errors) as exc:
                print(f"satori {command}: {exc}", file=sys.stderr)
                return 2

        return reporting

    return decorate
