"""``satori pretrain CONFIG.yaml [key=value ...]``: pretrain a tiny base model on the procedural corpus."""

from __future__ import annotations

import argparse

from satori.stage_cli import add_config_arguments, load_stage_config

HELP = "pretrain a tiny base model from scratch on the procedural corpus"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "pretrain", "max_steps=100")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from satori.config import ConfigError
    from satori.io import DataError
    from train.pretrain import PretrainConfig, run_pretrain

    try:
        run_pretrain(load_stage_config(PretrainConfig, args, "pretrain"), progress=not args.no_progress)
    except (ConfigError, DataError) as exc:
        print(f"satori pretrain: error: {exc}")
        return 2
    return 0
