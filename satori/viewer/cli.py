"""`satori view`: one static HTML page to read trajectories (eval samples, PPO rollouts, demonstrations).

    satori view runs/quickstart/eval                       # every checkpoint, SFT and RL side by side
    satori view runs/sft_eval/sft/samples.jsonl runs/rl_eval/rl/samples.jsonl --out sft_vs_rl.html
    satori view runs/quickstart/rl1                        # PPO rollout samples (rollout_samples.jsonl)
    satori view runs/quickstart/synth/demos.jsonl

The page needs no server and fetches nothing: open it from disk in any browser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from satori.stage_cli import reports_errors

HELP = "read trajectories in one static HTML page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a samples.jsonl, rollout_samples.jsonl or demos.jsonl file, or a folder holding them "
                             "(directly or one level down, e.g. an eval folder)")
    parser.add_argument("--out", help="the HTML file to write (default: samples.html in the first PATH's folder)")
    parser.add_argument("--title", help="the page's title")
    parser.add_argument("--page-size", type=int, default=25, help="trajectories per page (10, 25, 50 or 100)")


def default_out(path: str) -> Path:
    """``samples.html`` beside a file, or inside a folder."""
    first = Path(path)
    return (first if first.is_dir() else first.parent) / "samples.html"


@reports_errors("view", FileNotFoundError, ValueError)
def run(args: argparse.Namespace) -> int:
    from satori.viewer.page import write_page

    out = Path(args.out) if args.out else default_out(args.paths[0])
    table = write_page(args.paths, out, title=args.title, page_size=args.page_size)
    sources = ", ".join(f"{s['name']} ({s['kind']})" for s in table.sources)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(table.samples)} trajectories from {sources}")
    return 0
