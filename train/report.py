"""`report.md` for a `satori run`: what each stage did, how long it took, and the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from satori.io import atomic_write_text
from train.pipeline_config import PipelineConfig

RL_CURVES = ["eval/accuracy", "reward/total", "rollout/accuracy", "rae/repaired", "rae/kept_correct"]
SFT_CURVES = ["loss/train", "loss/val"]
DIAGRAM = """```
problems --synth--> COAT demos --sft--> format-tuned model --rl (PPO + RAE)--> RL policy --eval--> report
                                              ^                                      |
                                              +------ distil (rounds > 1) -----------+
```"""


def write_report(config: PipelineConfig, records: list[dict[str, Any]]) -> Path:
    """Write ``RUN/report.md`` (and the PNG curves it shows); returns its path."""
    root = config.root
    lines = [f"# satori run: `{root}`", "", DIAGRAM, "", "## Stages", "",
             "| stage | seconds | result |", "|---|---|---|"]
    for record in records:
        lines.append(f"| {record['stage']} | {record['seconds']:.0f} | {_short(record['result'])} |")
    lines.append(f"| **total** | {sum(r['seconds'] for r in records):.0f} | |")
    lines += ["", *_synth_section(root), *_curves_section(root / "sft", SFT_CURVES, "Format tuning (SFT)")]
    for round_index in range(1, config.rounds + 1):
        lines += _curves_section(config.rl_dir(round_index), RL_CURVES, f"PPO with RAE, round {round_index}")
    lines += _eval_section(root / "eval")
    lines += _trajectories_section(root, [root / "synth", *(config.rl_dir(i) for i in range(1, config.rounds + 1))])
    path = root / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _synth_section(root: Path) -> list[str]:
    stats_path = root / "synth" / "stats.json"
    if not stats_path.is_file():
        return []
    stats = json.loads(stats_path.read_text())
    kinds = stats.get("kinds", {})
    rows = [f"| {kind} | {count} |" for kind, count in kinds.items()]
    return ["## Synthesis", "", f"{stats.get('demos', 0)} demonstrations.", "", "| kind | demos |", "|---|---|",
            *rows, ""]


def _curves_section(run_dir: Path, keys: list[str], title: str) -> list[str]:
    from satori.tracking import plot_metrics, read_metrics

    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        return []
    rows = read_metrics(metrics)
    png = run_dir / "curves.png"
    try:
        plot_metrics(metrics, keys, png, title=title)
    except ValueError:
        return [f"## {title}", "", "(no curves logged)", ""]
    evals = [r for r in rows if r.get("eval/accuracy") is not None]
    lines = [f"## {title}", ""]
    if evals:
        ends = [evals[0]] if len(evals) == 1 else [evals[0], evals[-1]]
        lines += ["Greedy held-out accuracy: " + " -> ".join(
            f"{r['eval/accuracy']:.3f} at step {r['step']}" for r in ends) + ".", ""]
    lines += [f"![{title}]({png.relative_to(run_dir.parent)})", ""]
    return lines


def _eval_section(out: Path) -> list[str]:
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        return []
    from eval.report import markdown_table

    summary = json.loads(summary_path.read_text())
    lines = ["## Evaluation", "", markdown_table(summary["results"]).strip(), "",
             "Self-correction (completions that reflect: answer before the first `<|reflect|>` -> final answer):",
             "", "| model | benchmark | correct->correct | correct->incorrect | incorrect->correct | "
             "incorrect->incorrect |", "|---|---|---|---|---|---|"]
    for model, benchmarks in summary["results"].items():
        for name, result in benchmarks.items():
            sc = result["self_correction"]
            lines.append(f"| {model} | {name} | {sc.get('correct->correct', 0)} | {sc.get('correct->incorrect', 0)} | "
                         f"{sc.get('incorrect->correct', 0)} | {sc.get('incorrect->incorrect', 0)} |")
    lines += ["", f"![evaluation]({(out / 'chart.png').relative_to(out.parent)})", ""]
    return lines


def _trajectories_section(root: Path, folders: list[Path]) -> list[str]:
    """Links to the trajectory pages (``satori view``): the evaluation's, and one written here for the
    demonstrations and for each PPO round's rollout samples."""
    from satori.viewer.page import write_page

    links = []
    if (root / "eval" / "samples.html").is_file():
        links.append(("evaluation samples, checkpoints side by side", root / "eval" / "samples.html"))
    for folder in folders:
        data = [folder / name for name in ("demos.jsonl", "rollout_samples.jsonl") if (folder / name).is_file()]
        if data and data[0].stat().st_size:
            write_page(data, folder / "samples.html", title=f"satori run {root.name}: {folder.name}")
            what = "demonstrations" if data[0].name == "demos.jsonl" else "PPO rollout samples"
            links.append((f"{what} ({folder.name})", folder / "samples.html"))
    if not links:
        return []
    return ["## Trajectories", "", "Static pages to read what the model wrote (open in a browser; `satori view` "
            "makes them from any samples file):", "",
            *(f"- [{text}]({page.relative_to(root)})" for text, page in links), ""]


def _short(result: Any) -> str:
    if isinstance(result, dict):
        scalars = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
                   if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        return ", ".join(scalars[:6])
    return ""
