"""What every stage subcommand (``satori sft``, ``satori rl``, ...) shares: ``CONFIG [key=value ...]``.

A stage's config may be its own YAML or a pipeline YAML whose section for that stage is read;
a first positional holding ``=`` is taken as an override, so no file is needed.
"""

from __future__ import annotations

import argparse
from typing import Sequence


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
    from satori.config import load_config

    path, overrides = args.config, list(args.overrides)
    if path is not None and "=" in path:
        path, overrides = None, [path, *overrides]
    return load_config(cls, path, [*flag_overrides, *overrides], section=section)
