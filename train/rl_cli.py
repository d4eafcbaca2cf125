"""`satori rl CONFIG.yaml [key=value ...]`: PPO with restart-and-explore from an SFT checkpoint."""

from __future__ import annotations

import argparse
import sys

from satori.cli import add_config_arguments, load_stage_config
from satori.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "rl", "algo.actor_lr=1e-6 total_steps=20")
    parser.add_argument("--engine", choices=("satori", "openrlhf"), default="satori",
                        help="satori's own PPO loop, or OpenRLHF's Ray PPO (needs CUDA GPUs)")
    parser.add_argument("--dry-run", action="store_true", help="with --engine openrlhf: print its command and exit")


def run(args: argparse.Namespace) -> int:
    from train.rl.config import RLConfig

    try:
        config = load_stage_config(RLConfig, args, section="rl")
    except ConfigError as exc:
        print(f"satori rl: {exc}", file=sys.stderr)
        return 2
    if args.engine == "openrlhf":
        from train.openrlhf.launch import run_openrlhf

        return run_openrlhf(config, dry_run=args.dry_run)
    from train.rl.driver import run as run_ppo

    metrics = run_ppo(config)
    print("final evaluation:", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return 0
