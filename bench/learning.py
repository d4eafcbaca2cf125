"""Does the RL stage beat its SFT checkpoint? Paired accuracies over seeds, RAE on and off, and a TRL anchor.

    python bench/learning.py                        # configs/quickstart.yaml, seeds 0,1,2, RAE on and off
    python bench/learning.py --config configs/quickstart.yaml --seeds 0,1,2 --anchor trl
    python bench/learning.py --seeds 0,1,2 --anchor trl max_steps=null max_seconds=450   # every run: one budget
    python bench/learning.py --sft /tmp/qs_smoke/sft/model --seeds 0 --rae on --eval-limit 20 \\
        --out-dir /tmp/learning_smoke --out /tmp/learning_smoke/learning.json max_steps=2 eval_every=2   # smoke run

For each RAE setting and seed it runs the config's RL stage (``satori rl CONFIG``, its ``rl:`` section, a fresh
subprocess per run so Ray starts clean) from the SFT checkpoint (default: ``model/`` of the config's SFT run
folder), with ``key=value`` overrides applied to that section. In-run evaluation is off unless an override turns
it on (``data.eval_size=0`` comes first): the runs are evaluated afterwards on more problems, and the wall-clock
budget the TRL anchor gets should hold training only. Then one ``satori eval CONFIG`` (its ``eval:``
section, greedy, one sample) grades the SFT checkpoint once and every final policy with the project's verifier.
Per run: SFT and RL accuracy over all held-out problems, the difference with a paired bootstrap 95% interval
(problems resampled 10,000 times, numpy seeded), and the problems that flipped incorrect->correct and
correct->incorrect; per RAE setting the mean difference over seeds, with an interval from resampling problems
for the per-problem mean over seeds (seed-to-seed spread shows in the per-seed rows). Also each run's wall
seconds and mean seconds per PPO step (``perf/step_s`` in its ``metrics.jsonl``).

``--anchor trl`` also trains TRL's GRPOTrainer (``bench/anchors/trl_grpo.py``, in its own venv) once per seed, from
the same SFT checkpoint on the RL stage's train problems with the same seed, prompt template, reward (1 when
satori's verifier accepts the answer, else 0), batch (prompts_per_step x samples_per_prompt in mini_batches
updates), max_new_tokens, temperature, learning rate and clipping, for the same wall-clock budget:
``--budget-seconds``, by default the wall time of satori's RL run with that seed (RAE on when it ran; with
``max_seconds`` in the overrides every satori run stops inside that budget and TRL gets the wall time it took). Then
satori minus TRL, paired per problem: per seed, and for the mean over seeds. TRL's venv, once
(about 3 minutes; trl 1.16.0 with transformers 5.24; check that no torchvision came along):

    python3 -m venv /work/trl-venv
    /work/trl-venv/bin/pip install torch==2.13.0
    /work/trl-venv/bin/pip install trl math-verify datasets sympy latex2sympy2_extended==1.11.0
    /work/trl-venv/bin/pip uninstall -y torchvision torchaudio torchcodec    # only if pip pulled them in

Runs are kept under ``--out-dir`` and reused by a rerun with the same settings (an unfinished or changed run
is redone from scratch, and its evaluation with it). Prints a markdown table and writes
``bench/results/learning.json`` and ``bench/results/learning.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
BENCH_KEYS = ("run_dir", "model.policy", "seed", "rae.enabled")   # set per run by this script
DEFAULT_OVERRIDES = ("data.eval_size=0",)    # before the command line's overrides, which can change them
MARKER = "learning_run.json"
TRL_VENV_HELP = """the TRL anchor needs its own venv; create it with
    python3 -m venv /work/trl-venv
    /work/trl-venv/bin/pip install torch==2.13.0
    /work/trl-venv/bin/pip install trl math-verify datasets sympy latex2sympy2_extended==1.11.0
    /work/trl-venv/bin/pip uninstall -y torchvision torchaudio torchcodec
or point --trl-python at the python of a venv holding trl"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quickstart.yaml",
                        help="pipeline config (rl: and eval: sections)")
    parser.add_argument("--sft", help="SFT checkpoint folder (default: model/ of the config's SFT run folder)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated RL seeds")
    parser.add_argument("--rae", choices=("both", "on", "off"), default="both",
                        help="RL runs with rae.enabled true, false or both")
    parser.add_argument("--anchor", choices=("trl",),
                        help="also train TRL's GRPOTrainer, once per seed, for the same budget")
    parser.add_argument("--trl-python", default="/work/trl-venv/bin/python", help="python of the venv holding trl")
    parser.add_argument("--budget-seconds", type=float,
                        help="TRL's wall-clock budget (default: wall time of satori's RL run with the same seed)")
    parser.add_argument("--eval-limit", type=int,
                        help="first N problems of each eval benchmark (default: the config's eval.limit)")
    parser.add_argument("--out-dir", default=str(ROOT / "runs" / "learning"),
                        help="folder for the runs and evaluations")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "learning.json"),
                        help="results JSON (the chart is written beside it as .png)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides of the rl section")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.rae_settings = {"both": [True, False], "on": [True], "off": [False]}[args.rae]
    for item in args.overrides:
        key = item.split("=", 1)[0].removeprefix("rl.")
        if "=" not in item or key in BENCH_KEYS:
            parser.error(f"override {item!r}: give key=value for the rl section; {', '.join(BENCH_KEYS)} are set "
                         "per run by this script")
    if args.anchor == "trl" and not Path(args.trl_python).is_file():
        parser.error(f"{args.trl_python} not found: {TRL_VENV_HELP}")
    return args


def rl_config(args: argparse.Namespace, sft: str, seed: int, rae: bool) -> Any:
    """The RL stage's resolved config for one run (validated, as ``satori rl`` would)."""
    from satori.config import load_config
    from train.rl.config import RLConfig

    return load_config(RLConfig, args.config, run_overrides(args, sft, seed, rae), section="rl")


def run_overrides(args: argparse.Namespace, sft: str, seed: int, rae: bool) -> list[str]:
    """The RL section's overrides for one run (``run_dir`` aside): this script's defaults, the command line's,
    then the keys this script sets per run."""
    return [*DEFAULT_OVERRIDES, *args.overrides, f"model.policy={sft}", f"seed={seed}",
            f"rae.enabled={str(rae).lower()}"]


def check_rl_configs(args: argparse.Namespace, sft: str) -> None:
    """Stop on an invalid RL setting before anything runs."""
    from satori.config import ConfigError

    try:
        for seed in args.seeds:
            for rae in args.rae_settings:
                rl_config(args, sft, seed, rae)
    except ConfigError as exc:
        sys.exit(f"{args.config}, rl section: {exc}")


def default_sft(config: str) -> str:
    """``model/`` of the SFT run folder ``satori run CONFIG`` writes."""
    from satori.config import load_config
    from train.pipeline_config import PipelineConfig

    return str(load_config(PipelineConfig, config).sft_dir() / "model")


def rl_label(rae: bool, seed: int) -> str:
    return f"rl_rae-{'on' if rae else 'off'}_seed{seed}"


def run_once(command: list[str], folder: Path, stale: list[Path]) -> float:
    """Run ``command`` into ``folder`` unless its marker records the same command; returns its wall seconds.

    A run that is missing, unfinished or made by another command is redone from scratch, and the
    ``stale`` folders (its evaluations) are removed with it. Output goes to ``folder.log``.
    """
    marker = folder / MARKER
    if marker.is_file():
        record = json.loads(marker.read_text())
        if record["command"] == command[1:]:
            print(f"reusing {folder} ({record['wall_seconds']:.0f} s)")
            return record["wall_seconds"]
    for path in [folder, *stale]:
        shutil.rmtree(path, ignore_errors=True)
    folder.mkdir(parents=True)
    log = folder.with_name(folder.name + ".log")
    print(f"running {' '.join(command)}  (log: {log})", flush=True)
    start = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT,
                               env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    wall = time.perf_counter() - start
    if code != 0:
        sys.exit(f"exit code {code}: {' '.join(command)}; see {log}")
    marker.write_text(json.dumps({"command": command[1:], "wall_seconds": wall}) + "\n")
    return wall


def run_rl(args: argparse.Namespace, sft: str, seed: int, rae: bool, out_dir: Path) -> dict[str, Any]:
    """One RL stage run; its wall seconds, PPO steps and mean seconds per step."""
    label = rl_label(rae, seed)
    run_dir = out_dir / label
    command = [sys.executable, "-m", "satori.cli", "rl", args.config, *run_overrides(args, sft, seed, rae),
               f"run_dir={run_dir}"]
    wall = run_once(command, run_dir, stale=list(out_dir.glob(f"eval*/{label}")))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    step_seconds = [row["perf/step_s"] for row in rows if "perf/step_s" in row]
    return {"label": label, "kind": "satori", "rae": rae, "seed": seed, "path": str(run_dir / "final"),
            "run_dir": str(run_dir), "wall_seconds": round(wall, 1), "steps": len(step_seconds),
            "step_seconds": round(float(np.mean(step_seconds)), 2), "ppo_seconds": round(sum(step_seconds), 1)}


def write_trl_prompts(rl: Any, sft: str, path: Path) -> None:
    """The RL stage's train problems as TRL prompts (same template; too-long prompts dropped, as satori does)."""
    from transformers import AutoTokenizer

    from satori.io import atomic_write_jsonl
    from satori.prompts import build_prompt
    from train.rl.problem_sets import load_problem_set

    tokenizer = AutoTokenizer.from_pretrained(sft)
    problems = load_problem_set(rl.data.train, rl.data.train_size, "train", rl.seed, rl.data.difficulty)
    prompts = [(build_prompt(p.question, rl.data.template, tokenizer), p.gold) for p in problems]
    rows = [{"prompt": prompt, "gold": json.dumps(gold)} for prompt, gold in prompts
            if len(tokenizer.encode(prompt, add_special_tokens=False)) <= rl.data.max_prompt_len]
    atomic_write_jsonl(path, rows)


def trl_flags(rl: Any) -> list[str]:
    """``bench/anchors/trl_grpo.py`` flags carrying the RL stage's settings."""
    rollout, algo = rl.rollout, rl.algo
    flags = {"prompts-per-step": rollout.prompts_per_step, "samples-per-prompt": rollout.samples_per_prompt,
             "mini-batches": algo.mini_batches, "micro-batch-size": algo.micro_batch_size,
             "max-new-tokens": rollout.max_new_tokens, "temperature": rollout.temperature, "top-p": rollout.top_p,
             "lr": algo.actor_lr, "warmup-steps": algo.warmup_steps, "weight-decay": algo.weight_decay,
             "max-grad-norm": algo.max_grad_norm, "clip-low": algo.clip_eps_low, "clip-high": algo.clip_eps_high,
             "beta": algo.kl_coef, "threads": rl.threads, "seed": rl.seed, "verify-timeout": rl.reward.verify_timeout,
             "verifier-workers": rl.reward.processes_per_worker}
    return [f"--{name}={value}" for name, value in flags.items()] + \
        (["--gradient-checkpointing"] if rl.model.gradient_checkpointing else [])


def trl_label(seed: int) -> str:
    return f"trl_seed{seed}"


def run_trl(args: argparse.Namespace, sft: str, seed: int, budget: float, out_dir: Path) -> dict[str, Any]:
    """TRL's GRPOTrainer on one seed's RL settings for ``budget`` seconds; its steps and timings."""
    rl = rl_config(args, sft, seed, rae=False)
    label = trl_label(seed)
    folder = out_dir / label
    prompts = out_dir / f"{label}_prompts.jsonl"
    write_trl_prompts(rl, sft, prompts)
    command = [args.trl_python, str(ROOT / "bench" / "anchors" / "trl_grpo.py"), f"--policy={sft}",
               f"--prompts={prompts}", f"--out={folder}", f"--budget-seconds={budget:.1f}", *trl_flags(rl)]
    wall = run_once(command, folder, stale=list(out_dir.glob(f"eval*/{label}")))
    result = json.loads((folder / "result.json").read_text())
    return {"label": label, "kind": "trl", "rae": False, "seed": rl.seed, "path": str(folder / "final"),
            "run_dir": str(folder), "wall_seconds": round(wall, 1), "steps": result["steps"],
            "step_seconds": result["step_seconds"], "train_seconds": result["train_seconds"],
            "budget_seconds": round(budget, 1), "optimizer_steps": result["optimizer_steps"],
            "prompts": result["prompts"], "reward_per_step": result["reward_per_step"],
            "versions": result["versions"], "batch_layout": result["layout"], "satori_advantage": rl.algo.advantage}


def evaluate(args: argparse.Namespace, models: dict[str, str], out_dir: Path) -> dict[str, dict[tuple, bool]]:
    """Greedy ``satori eval`` of every model; per model, ``{(benchmark, problem_id): correct}``.

    Each ``--eval-limit`` gets its own folder, so a rerun never mixes problem sets (finished samples are reused).
    """
    folder = out_dir / (f"eval_limit{args.eval_limit}" if args.eval_limit else "eval")
    settings = folder / "sft" / "settings.json"
    if settings.is_file() and json.loads(settings.read_text())["model"] != models["sft"]:
        shutil.rmtree(folder / "sft")       # samples of another SFT checkpoint
    command = [sys.executable, "-m", "satori.cli", "eval", args.config, f"--out={folder}", "--temperature=0",
               "--n=1", "--k=1", "--no-progress", *(f"--model={label}={path}" for label, path in models.items()),
               *([f"--limit={args.eval_limit}"] if args.eval_limit else [])]
    log = folder.with_name(folder.name + ".log")
    print(f"running {' '.join(command)}  (log: {log})", flush=True)
    with open(log, "w") as handle:
        if subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT) != 0:
            sys.exit(f"satori eval failed; see {log}")
    return {label: read_verdicts(folder / label / "samples.jsonl") for label in models}


def read_verdicts(path: Path) -> dict[tuple, bool]:
    """``{(benchmark, problem_id): correct}`` from a greedy ``samples.jsonl``."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(row["benchmark"], row["problem_id"]): bool(row["correct"]) for row in rows if row["sample"] == 0}


def paired_bootstrap(differences: np.ndarray) -> tuple[float, float]:
    """95% interval of the mean of per-problem ``differences``, resampling problems ``RESAMPLES`` times."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = len(differences)
    chunk = max(1, 2_000_000 // n)     # resamples drawn at once: about 2M indices in memory
    means = []
    for done in range(0, RESAMPLES, chunk):
        rows = rng.integers(0, n, size=(min(chunk, RESAMPLES - done), n))
        means.append(differences[rows].mean(axis=1))
    low, high = np.percentile(np.concatenate(means), [2.5, 97.5])
    return float(low), float(high)


def compare(sft: dict[tuple, bool], model: dict[tuple, bool]) -> dict[str, Any]:
    """Accuracy of ``model`` against SFT on the same problems: difference, its interval, flips, per benchmark."""
    if set(sft) != set(model):
        sys.exit(f"SFT and model were graded on different problems ({len(sft)} vs {len(model)})")
    keys = sorted(sft)
    before = np.array([sft[k] for k in keys], dtype=float)
    after = np.array([model[k] for k in keys], dtype=float)
    low, high = paired_bootstrap(after - before)
    return {"accuracy": round(float(after.mean()), 4), "difference": round(float(after.mean() - before.mean()), 4),
            "interval": [round(low, 4), round(high, 4)],
            "incorrect_to_correct": int(((before == 0) & (after == 1)).sum()),
            "correct_to_incorrect": int(((before == 1) & (after == 0)).sum()),
            "by_benchmark": accuracy_by_benchmark(model)}


def accuracy_by_benchmark(verdicts: dict[tuple, bool]) -> dict[str, float]:
    names = sorted({benchmark for benchmark, _ in verdicts})
    return {name: round(float(np.mean([ok for (b, _), ok in verdicts.items() if b == name])), 4) for name in names}


def seed_mean(base: list[dict[tuple, bool]], runs: list[dict[tuple, bool]]) -> dict[str, Any]:
    """Mean over seeds of the ``runs``' accuracy and of its difference from the mean over the ``base`` runs (the SFT
    model alone, or TRL's seeds), with a problem-resampling interval."""
    keys = sorted(base[0])

    def per_problem(models: list[dict[tuple, bool]]) -> np.ndarray:
        return np.mean([[model[k] for k in keys] for model in models], axis=0)

    accuracy = per_problem(runs)
    differences = accuracy - per_problem(base)
    low, high = paired_bootstrap(differences)
    return {"mean_accuracy": round(float(accuracy.mean()), 4), "mean_difference": round(float(differences.mean()), 4),
            "interval": [round(low, 4), round(high, 4)]}


def against_trl(args: argparse.Namespace, verdicts: dict[str, dict[tuple, bool]]) -> list[dict[str, Any]]:
    """satori minus TRL per problem, per RAE setting: for each seed (the TRL run with the same seed and budget),
    then for the mean over seeds."""
    rows: list[dict[str, Any]] = []
    for rae in args.rae_settings:
        for seed in args.seeds:
            paired = compare(verdicts[trl_label(seed)], verdicts[rl_label(rae, seed)])
            rows.append({"rae": rae, "seed": seed, "difference": paired["difference"], "interval": paired["interval"],
                         "right_only_in_satori": paired["incorrect_to_correct"],
                         "right_only_in_trl": paired["correct_to_incorrect"]})
        mean = seed_mean([verdicts[trl_label(seed)] for seed in args.seeds],
                         [verdicts[rl_label(rae, seed)] for seed in args.seeds])
        rows.append({"rae": rae, "seeds": args.seeds, "difference": mean["mean_difference"],
                     "interval": mean["interval"]})
    return rows


def git_state() -> dict[str, Any]:
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def setting(run: dict[str, Any]) -> str:
    """What a run or a mean over seeds trained with: RAE on, RAE off or TRL GRPO."""
    return "TRL GRPO" if run.get("kind") == "trl" else f"RAE {'on' if run['rae'] else 'off'}"


def with_interval(difference: float, interval: list[float]) -> str:
    """``+1.2 [-0.4, +2.8]`` in points."""
    low, high = interval
    return f"{100 * difference:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def print_table(result: dict[str, Any]) -> None:
    """The markdown table: one row per run, then the mean over seeds per RAE setting."""
    sft = f"{100 * result['sft']['accuracy']:.1f}%"
    print(f"\nSFT {result['sft']['path']}: {sft} on {result['problems']} held-out problems (greedy)\n")
    print("| run | setting | seed | PPO steps | s/step | wall s | SFT | RL | RL − SFT, points [95% CI] "
          "| inc→cor | cor→inc |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in result["runs"]:
        print(f"| {run['label']} | {setting(run)} | {run['seed']} | {run['steps']} | {run['step_seconds']} | "
              f"{run['wall_seconds']:.0f} | {sft} | {100 * run['accuracy']:.1f}% | "
              f"{with_interval(run['difference'], run['interval'])} | {run['incorrect_to_correct']} | "
              f"{run['correct_to_incorrect']} |")
    for mean in result["seed_means"]:
        print(f"| mean over seeds | {setting(mean)} | {','.join(map(str, mean['seeds']))} | | | | {sft} | "
              f"{100 * mean['mean_accuracy']:.1f}% | {with_interval(mean['mean_difference'], mean['interval'])} | | |")
    if result.get("against_trl"):
        print("\nsatori minus TRL's GRPOTrainer, paired per problem (same seed, same wall-clock budget)\n")
        print("| setting | seed | satori − TRL, points [95% CI] | right only in satori | right only in TRL |")
        print("|---|---|---|---|---|")
        for row in result["against_trl"]:
            seed = row["seed"] if "seed" in row else "mean " + ",".join(map(str, row["seeds"]))
            print(f"| RAE {'on' if row['rae'] else 'off'} | {seed} | {with_interval(row['difference'], row['interval'])} "
                  f"| {row.get('right_only_in_satori', '')} | {row.get('right_only_in_trl', '')} |")


def plot(result: dict[str, Any], path: Path) -> None:
    """Left: SFT and RL accuracy per run (RL bars carry the paired interval); right: the differences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    kinds = {"RAE on": "tab:blue", "RAE off": "tab:orange", "TRL GRPO": "tab:green"}
    runs, means = result["runs"], result["seed_means"]
    bars = [(run["label"], run, kinds[setting(run)]) for run in runs]
    bars += [(f"mean {setting(m)}", m, kinds[setting(m)]) for m in means]
    figure, (left, right) = plt.subplots(1, 2, figsize=(max(10.0, 1.2 * len(bars) + 6), 4.8))
    x = np.arange(len(runs))
    sft = 100 * result["sft"]["accuracy"]
    left.bar(x - 0.2, [sft] * len(runs), 0.4, color="lightgray")
    left.bar(x + 0.2, [100 * run["accuracy"] for run in runs], 0.4, color=[c for _, run, c in bars[:len(runs)]],
             yerr=error_bars([run["difference"] for run in runs], [run["interval"] for run in runs]), capsize=3)
    left.set_xticks(x, [run["label"] for run in runs], rotation=30, ha="right", fontsize=8)
    left.set_ylabel(f"accuracy, % ({result['problems']} held-out problems, greedy)")
    shown = [kind for kind in kinds if any(setting(run) == kind for run in runs)]   # only settings that ran
    left.legend([Patch(color="lightgray"), *(Patch(color=kinds[k]) for k in shown)], ["SFT", *shown], fontsize=8)
    differences = [item.get("difference", item.get("mean_difference")) for _, item, _ in bars]
    right.bar(np.arange(len(bars)), [100 * d for d in differences], 0.6, color=[c for *_, c in bars],
              yerr=error_bars(differences, [item["interval"] for _, item, _ in bars]), capsize=3,
              edgecolor="black", linewidth=[0.0] * len(runs) + [1.5] * len(means))
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xticks(np.arange(len(bars)), [label for label, *_ in bars], rotation=30, ha="right", fontsize=8)
    right.set_ylabel("RL − SFT, points (paired 95% CI)")
    figure.suptitle("RL vs its SFT checkpoint on held-out problems (outlined: mean over seeds)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def error_bars(centres: list[float], intervals: list[list[float]]) -> np.ndarray:
    """Matplotlib's (2, n) error bars in points from fractions and their intervals."""
    return 100 * np.array([[c - low for c, (low, _) in zip(centres, intervals)],
                           [high - c for c, (_, high) in zip(centres, intervals)]])


def rl_record(args: argparse.Namespace, sft: str) -> dict[str, Any]:
    """The first seed's resolved RL config (RAE as in the first setting; each run's folder is in its row)."""
    from satori.config import to_dict

    record = to_dict(rl_config(args, sft, args.seeds[0], args.rae_settings[0]))
    record.pop("run_dir")
    return record


def main() -> None:
    args = parse_args()
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sft = str(Path(args.sft or default_sft(args.config)).resolve())
    if not (Path(sft) / "config.json").is_file():
        sys.exit(f"{sft} is not a checkpoint folder; give --sft or run `satori run {args.config}` first")
    check_rl_configs(args, sft)
    runs = [run_rl(args, sft, seed, rae, out_dir) for rae in args.rae_settings for seed in args.seeds]
    if args.anchor == "trl":
        walls = {run["seed"]: run["wall_seconds"] for run in runs if run["rae"] == args.rae_settings[0]}
        runs += [run_trl(args, sft, seed, args.budget_seconds or walls[seed], out_dir) for seed in args.seeds]
    verdicts = evaluate(args, {"sft": sft, **{run["label"]: run["path"] for run in runs}}, out_dir)
    for run in runs:
        run.update(compare(verdicts["sft"], verdicts[run["label"]]))
    seed_means = [{"kind": "satori", "rae": rae, "seeds": args.seeds, **seed_mean([verdicts["sft"]], [
        verdicts[rl_label(rae, seed)] for seed in args.seeds])} for rae in args.rae_settings]
    if args.anchor == "trl":
        seed_means.append({"kind": "trl", "rae": False, "seeds": args.seeds, **seed_mean(
            [verdicts["sft"]], [verdicts[trl_label(seed)] for seed in args.seeds])})
    result = {
        "config": args.config, "rl_overrides": args.overrides, "seeds": args.seeds, "rae": args.rae_settings,
        "eval_limit": args.eval_limit, "out_dir": str(out_dir), "problems": len(verdicts["sft"]),
        "sft": {"path": sft, "accuracy": round(float(np.mean(list(verdicts["sft"].values()))), 4),
                "by_benchmark": accuracy_by_benchmark(verdicts["sft"])},
        "bootstrap": {"resamples": RESAMPLES, "seed": BOOTSTRAP_SEED, "level": 0.95, "unit": "problem"},
        "runs": runs, "seed_means": seed_means,
        "against_trl": against_trl(args, verdicts) if args.anchor == "trl" else [],
        "rl_config": rl_record(args, sft), "cpus": os.cpu_count(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 1), "git": git_state(),
        "command": "python bench/learning.py " + " ".join(sys.argv[1:])}
    print_table(result)
    from satori.io import atomic_write_json

    out = Path(args.out)
    atomic_write_json(out, result)
    plot(result, out.with_suffix(".png"))
    print(f"\nwrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
