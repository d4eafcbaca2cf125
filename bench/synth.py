"""Offline procedural synthesis throughput: 5,000 COAT demonstrations with scripted agents.

    python bench/synth.py [--demos 5000] [--workers 2]

Runs the real ``satori synth`` path (``configs/synth_procedural.yaml``) into a fresh folder and
times it end to end: problem generation, scripted generator and critic, COAT assembly and the
final check of every demo by the verifier pool (workers started inside the timed span). Then it
re-checks the output independently (``satori.coat.parse`` and a fresh ``VerifierPool``
batch) and reports the share valid/verified and the kind proportions against the configured
ones. Prints a table and writes ``bench/results/synth.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="verifier processes")
    parser.add_argument("--config", default=str(ROOT / "configs" / "synth_procedural.yaml"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "synth.json"))
    args = parser.parse_args()

    from data_synthesis.cli import synthesize
    from data_synthesis.config import SynthConfig
    from satori import coat
    from satori.config import load_config
    from satori.grading import VerifierPool
    from satori.io import atomic_write_json

    with tempfile.TemporaryDirectory(prefix="satori-bench-synth-") as tmp:
        config = load_config(SynthConfig, args.config, [
            f"run_dir={tmp}", f"source.procedural.n={args.demos}", "progress=false",
            f"agents.verifier_workers={args.workers}"], section="synth")
        start = time.perf_counter()
        stats = synthesize(config)
        seconds = time.perf_counter() - start
        demos = [json.loads(line) for line in (Path(tmp) / "demos.jsonl").read_text().splitlines()]

    valid = sum(coat.is_valid(d["coat"], require_answer=True) for d in demos)
    with VerifierPool(workers=args.workers, warm_up=False) as pool:
        verified = sum(v.correct for v in pool.verify_batch([(d["coat"], d["gold"]) for d in demos]))
    total_weight = sum(config.kinds.values())
    kinds = {k: {"configured": round(w / total_weight, 4), "measured": round(stats["kinds"][k] / len(demos), 4)}
             for k, w in config.kinds.items()}
    lengths = [len(d["coat"]) for d in demos]
    result = {
        "demos": len(demos), "problems": stats["problems"], "seconds": round(seconds, 2),
        "demos_per_s": round(len(demos) / seconds, 1), "valid_coat_share": valid / len(demos),
        "verified_share": verified / len(demos), "kinds": kinds, "rejections": stats["rejections"],
        "mean_coat_chars": round(sum(lengths) / len(lengths), 1), "cpus": os.cpu_count(),
        "verifier_workers": args.workers, "config": str(Path(args.config).relative_to(ROOT)),
    }
    print(f"{len(demos)} demos in {seconds:.1f} s ({result['demos_per_s']} demos/s) on {os.cpu_count()} CPUs, "
          f"{args.workers} verifier workers")
    print("metric | value")
    print(f"valid COAT | {valid}/{len(demos)} ({100 * valid / len(demos):.1f}%)")
    print(f"verified answers | {verified}/{len(demos)} ({100 * verified / len(demos):.1f}%)")
    print(f"mean COAT chars | {result['mean_coat_chars']}")
    print("kind | configured | measured")
    for kind, share in kinds.items():
        print(f"{kind} | {share['configured']:.3f} | {share['measured']:.3f}")
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
