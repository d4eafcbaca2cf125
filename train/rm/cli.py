"""``satori rm CONFIG.yaml [key=value ...]``: train an outcome reward model on a policy's graded samples.

The config may be a stage YAML or a pipeline YAML with an ``rm:`` section, e.g.
``satori rm configs/rm_tiny.yaml data.policy=runs/quickstart/sft/model train.loss=bce``.
``--labels-only [train|eval]`` builds (or finishes) the label sets and stops.
"""

from __future__ import annotations

import argparse

from satori.stage_cli import add_config_arguments, load_stage_config, reports_errors

HELP = "train an outcome reward model on graded samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "rm", "train.loss=bce")
    parser.add_argument("--labels-only", nargs="?", const="both", choices=["both", "train", "eval"],
                        help="build the label sets (both, or only train or eval: two processes can build them "
                             "side by side), do not train")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


@reports_errors("rm")
def run(args: argparse.Namespace) -> int:
    from train.rm.config import RMConfig

    config = load_stage_config(RMConfig, args, section="rm")
    if args.labels_only:
        from train.rm.trainer import ensure_labels

        which = ("train", "eval") if args.labels_only == "both" else (args.labels_only,)
        paths = ensure_labels(config, progress=not args.no_progress, which=which)
        for name, path in zip(("train", "eval"), paths):
            if name in which:
                print(f"rm: {name} labels in {path}")
        return 0
    from train.rm.trainer import run_rm

    run_rm(config, progress=not args.no_progress)
    return 0
