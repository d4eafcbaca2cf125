"""`satori rl CONFIG.yaml [key=value ...]`: PPO with restart-and-explore from an SFT checkpoint."""

from __future__ import annotations

import argparse
import sys

from satori.stage_cli import add_config_arguments, load_stage_config, reports_errors

HELP = "PPO with restart-and-explore (stage two)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "rl", "algo.actor_lr=1e-6 max_steps=20")
    parser.add_argument("--engine", choices=("satori", "openrlhf"), default="satori",
                        help="satori's own PPO loop, or OpenRLHF's Ray PPO (needs CUDA GPUs)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the run's device-memory plan (with --engine openrlhf: its command) and exit")
    parser.add_argument("--architecture", metavar="CONFIG_JSON",
                        help="with --dry-run: the model's config.json (or a folder holding it) when model.policy "
                             "does not exist yet (e.g. configs/architectures/qwen2.5-math-7b.json)")
    parser.add_argument("--device-gib", type=float, default=80.0,
                        help="with --dry-run: memory of one accelerator, GiB (default 80)")


@reports_errors("rl")
def run(args: argparse.Namespace) -> int:
    from train.rl.config import RLConfig

    config = load_stage_config(RLConfig, args, section="rl")
    if args.engine == "openrlhf":
        from train.openrlhf.launch import run_openrlhf

        return run_openrlhf(config, dry_run=args.dry_run)
    if args.dry_run:
        return print_memory_plan(config, args.architecture, args.device_gib)
    from train.rl.driver import run as run_ppo

    metrics = run_ppo(config)
    if metrics:
        print("final evaluation:", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return 0


def print_memory_plan(config, architecture: str | None, device_gib: float) -> int:
    """Print the memory plan of ``config``; 0 when it fits, 1 when it does not, 2 when no architecture."""
    from pathlib import Path

    from transformers import AutoConfig

    from train.rl.memory_plan import format_plan

    source = architecture or config.model.policy
    if not Path(source).exists():
        print(f"satori rl --dry-run: model.policy {source!r} does not exist yet; pass --architecture with the "
              "model's config.json (configs/architectures/ holds some)", file=sys.stderr)
        return 2
    try:
        model_config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        print(f"satori rl --dry-run: cannot read a model config from {source}: {exc}", file=sys.stderr)
        return 2
    table, fits = format_plan(config, model_config, device_gib)
    print(table)
    return 0 if fits else 1
