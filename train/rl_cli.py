"""`satori rl CONFIG.yaml [key=value ...]`: PPO with restart-and-explore from an SFT checkpoint."""

from __future__ import annotations

import argparse
import sys

from satori.cli import add_config_arguments, load_stage_config
from satori.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "rl", "algo.actor_lr=1e-6 total_steps=20")


def run(args: argparse.Namespace) -> int:
    from train.rl.config import RLConfig

    try:
        config = load_stage_config(RLConfig, args, section="rl")
    except ConfigError as exc:
        print(f"satori rl: {exc}", file=sys.stderr)
        return 2
    from train.rl.driver import run as run_ppo

    metrics = run_ppo(config)
    print("final evaluation:", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return 0
