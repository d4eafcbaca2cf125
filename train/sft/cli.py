"""``satori sft CONFIG.yaml [key=value ...]``: format-tune a model on COAT demonstrations.

The config may be a stage YAML or a pipeline YAML with an ``sft:`` section. Overrides use
dotted keys, e.g. ``satori sft configs/sft_tiny.yaml train.max_steps=50 data.packing=true``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="YAML config (a stage file or a pipeline file with an sft: section)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. optim.lr=5e-4")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from satori.config import ConfigError, load_config
    from satori.io import DataError
    from train.sft_config import SFTConfig

    config_path, overrides = args.config, list(args.overrides)
    if config_path is not None and "=" in config_path:  # only overrides were given
        config_path, overrides = None, [config_path, *overrides]
    try:
        config = load_config(SFTConfig, config_path, overrides, section="sft")
        from train.sft import run_sft

        run_sft(config, progress=not args.no_progress)
    except (ConfigError, DataError) as exc:
        print(f"satori sft: error: {exc}")
        return 2
    return 0
