"""``satori sft CONFIG.yaml [key=value ...]``: format-tune a model on COAT demonstrations.

The config may be a stage YAML or a pipeline YAML with an ``sft:`` section. Overrides use
dotted keys, e.g. ``satori sft configs/sft_tiny.yaml max_steps=50 data.packing=true``.
"""

from __future__ import annotations

import argparse

from satori.stage_cli import add_config_arguments, load_stage_config

HELP = "format-tune a model on COAT demonstrations (stage one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "sft", "optim.lr=5e-4")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from satori.config import ConfigError
    from satori.io import DataError
    from train.sft.config import SFTConfig

    try:
        config = load_stage_config(SFTConfig, args, section="sft")
        from train.sft.trainer import run_sft

        run_sft(config, progress=not args.no_progress)
    except (ConfigError, DataError) as exc:
        print(f"satori sft: error: {exc}")
        return 2
    return 0
