"""`satori run CONFIG.yaml [key=value ...]`: the whole two-stage recipe (see `train.pipeline`)."""

from __future__ import annotations

import argparse
import sys

from satori.config import ConfigError, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="pipeline YAML, e.g. configs/quickstart.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. rounds=2 rl.total_steps=10")


def run(args: argparse.Namespace) -> int:
    from train.pipeline_config import PipelineConfig

    try:
        config = load_config(PipelineConfig, args.config, args.overrides)
    except ConfigError as exc:
        print(f"satori run: {exc}", file=sys.stderr)
        return 2
    from train.pipeline import run_pipeline

    report = run_pipeline(config)
    print(f"[satori run] report: {report}")
    return 0
