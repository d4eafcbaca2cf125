"""`satori teach CONFIG.yaml [key=value ...]`: train a teacher with GRPO, then write its distillation set."""

from __future__ import annotations

import argparse
import sys

from satori.config import ConfigError
from satori.stage_cli import add_config_arguments, load_stage_config

HELP = "train a teacher that writes COAT demonstrations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "teach", "max_steps=20 format.variant=plain")


def run(args: argparse.Namespace) -> int:
    from train.teach.config import TeachConfig

    try:
        config = load_stage_config(TeachConfig, args, section="teach")
        from train.teach.trainer import run as run_teacher

        metrics = run_teacher(config)
    except ConfigError as exc:
        print(f"satori teach: {exc}", file=sys.stderr)
        return 2
    print("final:", ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    return 0
