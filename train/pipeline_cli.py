"""`satori run CONFIG.yaml [key=value ...]`: the whole two-stage recipe (see `train.pipeline`)."""

from __future__ import annotations

import argparse
import sys

from satori.config import ConfigError
from satori.stage_cli import add_config_arguments, load_stage_config

HELP = "run the whole two-stage recipe from one config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "run", "rounds=2 rl.max_steps=10")


def run(args: argparse.Namespace) -> int:
    from train.pipeline_config import PipelineConfig

    try:
        config = load_stage_config(PipelineConfig, args, section=None)
    except ConfigError as exc:
        print(f"satori run: {exc}", file=sys.stderr)
        return 2
    from train.pipeline import run_pipeline

    report = run_pipeline(config)
    print(f"[satori run] report: {report}")
    return 0
