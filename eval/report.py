"""Side-by-side reports for several checkpoints: a markdown table and a PNG bar chart.

``results`` everywhere is ``{model: {benchmark: summary}}`` as ``eval.summary`` builds it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from satori.io import atomic_write_bytes, atomic_write_text

from eval.metrics import TRANSITIONS


def _pct(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _num(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def table_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """``(metric, cell)`` rows shown for one model on one benchmark."""
    rows = [("pass@1 (%)", _pct(summary["pass@1"]))]
    rows += [(f"pass@{k} (%)", _pct(v)) for k, v in summary["pass@k"].items() if k != "1"]
    rows += [(f"maj@{k} (%)", _pct(v)) for k, v in summary["maj@k"].items()]
    rows += [(f"ORM {name.removeprefix('orm_').replace('_', ' ')} (%)", _pct(summary[name]))
             for name in summary if name.startswith(("orm_best_of_", "orm_vote_"))]
    rows += [
        ("problems", str(summary["problems"])),
        ("mean tokens", _num(summary["mean_tokens"])),
        ("truncated (%)", _pct(summary["truncated_share"])),
        ("uses <|reflect|> (%)", _pct(summary["reflect_share"])),
        ("uses <|explore|> (%)", _pct(summary["explore_share"])),
        ("verifier timeouts", str(summary["timeouts"])),
        ("unparseable", str(summary["status"]["unparseable"])),
    ]
    rows += [(f"reflect {t}", str(summary["self_correction"][t])) for t in TRANSITIONS]
    return rows


def markdown_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One table, checkpoints as columns: headline pass@1 first, then every metric per
    benchmark, then per-group accuracy (e.g. MATH500 subject and level)."""
    models = list(results)
    benchmarks = list(dict.fromkeys(b for per_model in results.values() for b in per_model))
    header = "| benchmark | metric | " + " | ".join(models) + " |\n|---|---|" + "---|" * len(models) + "\n"
    lines = ["# Evaluation", "", "## pass@1 (%)", "",
             "| benchmark | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for bench in benchmarks:
        lines.append(f"| {bench} | " + " | ".join(_pct(results[m].get(bench, {}).get("pass@1")) for m in models) + " |")
    lines += ["", "## All metrics", "", header.rstrip("\n")]
    for bench in benchmarks:
        per_model = {m: dict(table_rows(results[m][bench])) for m in models if bench in results[m]}
        metrics = list(dict.fromkeys(name for cells in per_model.values() for name in cells))
        for name in metrics:
            lines.append(f"| {bench} | {name} | " + " | ".join(per_model.get(m, {}).get(name, "–") for m in models)
                         + " |")
    group_lines = []
    for bench in benchmarks:
        keys = list(dict.fromkeys(k for m in models for k in results[m].get(bench, {}).get("groups", {})))
        for key in keys:
            values = list(dict.fromkeys(v for m in models for v in results[m].get(bench, {}).get("groups", {})
                                        .get(key, {})))
            for value in values:
                cells = []
                for m in models:
                    group = results[m].get(bench, {}).get("groups", {}).get(key, {}).get(value)
                    cells.append(f"{_pct(group['accuracy'])} (n={group['count']})" if group else "–")
                group_lines.append(f"| {bench} | {key}={value} | " + " | ".join(cells) + " |")
    if group_lines:
        lines += ["", "## Accuracy per group (%)", "", header.rstrip("\n"), *group_lines]
    return "\n".join(lines) + "\n"


def bar_chart(results: dict[str, dict[str, dict[str, Any]]], path: str | Path) -> None:
    """Grouped bars of pass@1 (%) per benchmark, one colour per checkpoint, saved as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results)
    benchmarks = list(dict.fromkeys(b for per_model in results.values() for b in per_model))
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(benchmarks) + 1), 3.5))
    for i, model in enumerate(models):
        values = [100 * results[model].get(b, {}).get("pass@1", float("nan")) for b in benchmarks]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(benchmarks))]
        bars = ax.bar(xs, values, width, label=model)
        ax.bar_label(bars, labels=[_num(v) for v in values], fontsize=7)
    ax.set_xticks(range(len(benchmarks)), benchmarks)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_reports(results: dict[str, dict[str, dict[str, Any]]], out: str | Path,
                  samples: list[Path] = ()) -> dict[str, Path]:
    """Write ``table.md`` and ``chart.png`` into ``out``, and with the models' ``samples`` files the
    trajectory page ``samples.html`` (linked from ``table.md``); returns their paths."""
    from satori.viewer.page import write_page

    out = Path(out)
    paths = {"table": out / "table.md", "chart": out / "chart.png"}
    table = markdown_table(results)
    if samples:
        paths["page"] = out / "samples.html"
        write_page(list(samples), paths["page"], title=f"satori eval: {', '.join(results)}")
        table += (f"\nTrajectories: [samples.html](samples.html), every sample of every checkpoint, side by side "
                  f"(`satori view {out}` rebuilds it).\n")
    atomic_write_text(paths["table"], table)
    bar_chart(results, paths["chart"])
    return paths
