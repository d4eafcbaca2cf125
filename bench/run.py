"""The quick start timed by stage, with the peak memory of the whole process tree.

    python bench/run.py                                  # configs/quickstart.yaml in a fresh folder
    python bench/run.py --config configs/quickstart.yaml --run-dir /tmp/qs rl.max_steps=10

Runs ``satori run`` as a child process and samples the memory of it and every descendant
(Ray's workers included) every ``--interval`` seconds; the peak of the PSS sum is the job's
peak memory (the RSS sum, which counts shared pages once per process, is reported too). Stage times come from the ``stages/NAME.json`` records the pipeline writes,
accuracies from the evaluation stage. Prints a table and writes ``bench/results/run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def tree_memory(process: psutil.Process) -> tuple[int, int]:
    """(RSS, PSS) bytes summed over ``process`` and its descendants (vanished processes count 0).

    RSS counts a page shared by several processes once per process; PSS splits it between them,
    so the PSS sum is the tree's real footprint.
    """
    rss = pss = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
        except psutil.Error:
            pass
    return rss, pss


def run_and_watch(command: list[str], interval: float, log_path: Path) -> tuple[int, float, int, int]:
    """Run ``command``; return (exit code, wall seconds, peak tree RSS, peak tree PSS in bytes)."""
    start = time.perf_counter()
    peak_rss = peak_pss = 0
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        watched = psutil.Process(child.pid)
        while child.poll() is None:
            try:
                rss, pss = tree_memory(watched)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            except psutil.Error:
                pass
            time.sleep(interval)
    return child.returncode, time.perf_counter() - start, peak_rss, peak_pss


def time_pipeline(config: str, run_dir: Path, overrides: list[str], interval: float, resume: bool = False) -> dict:
    """``satori run config`` into a fresh ``run_dir`` (or, with ``resume``, on into an interrupted one),
    watched: wall seconds and peak tree RSS/PSS (bytes) of this invocation, and the stage records
    (``stages/NAME.json``, in the order they finished). Exits with the log's path on failure."""
    if (run_dir / "stages").exists() and not resume:
        sys.exit(f"{run_dir} already holds finished stages; give a fresh --run-dir to time every stage")
    command = [sys.executable, "-m", "satori.cli", "run", config, f"run_dir={run_dir}", *overrides]
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir.parent / f"{run_dir.name}{'.resumed' if resume else ''}.log"
    code, wall, peak_rss, peak_pss = run_and_watch(command, interval, log)
    if code != 0:
        sys.exit(f"satori run failed with exit code {code}; see {log}")
    stages = [json.loads(p.read_text()) for p in sorted((run_dir / "stages").glob("*.json"),
                                                        key=lambda p: p.stat().st_mtime)]
    return {"wall": wall, "peak_rss": peak_rss, "peak_pss": peak_pss, "stages": stages}


def pipeline_parser(description: str, config: str, result_name: str) -> argparse.ArgumentParser:
    """The arguments of a script that times ``satori run CONFIG`` under the memory watch."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=config)
    parser.add_argument("--run-dir", default=None, help="run folder (default: a fresh one under /tmp)")
    parser.add_argument("--interval", type=float, default=2.0,
                        help="memory sampling period, seconds (each sample reads every process's smaps; "
                             "at 0.5 s that took about a sixth of a core during the quick start)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / f"{result_name}.json"))
    parser.add_argument("overrides", nargs="*", help="key=value overrides passed to satori run")
    return parser


def main() -> None:
    args = pipeline_parser(__doc__.splitlines()[0], "configs/quickstart.yaml", "run").parse_args()
    run_dir = Path(args.run_dir or f"/tmp/satori-bench-run-{int(time.time())}").resolve()
    timed = time_pipeline(args.config, run_dir, args.overrides, args.interval)
    wall, peak_rss, peak_pss, stages = timed["wall"], timed["peak_rss"], timed["peak_pss"], timed["stages"]
    rows = [{"stage": s["stage"], "seconds": round(s["seconds"], 1)} for s in stages]
    evaluation = next((s["result"] for s in stages if s["stage"] == "eval"), {})
    print(f"{args.config} on {os.cpu_count()} CPUs: {wall / 60:.1f} min wall, peak memory of the process tree "
          f"{peak_pss / 2 ** 30:.2f} GiB PSS ({peak_rss / 2 ** 30:.2f} GiB summed RSS)")
    print("stage | seconds")
    for row in rows:
        print(f"{row['stage']} | {row['seconds']}")
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {
        "config": args.config, "overrides": args.overrides, "run_dir": str(run_dir), "cpus": os.cpu_count(),
        "wall_seconds": round(wall, 1), "peak_pss_gib": round(peak_pss / 2 ** 30, 3),
        "peak_rss_sum_gib": round(peak_rss / 2 ** 30, 3), "stages": rows,
        "evaluation": evaluation, "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "command": "python bench/run.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
