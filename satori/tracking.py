"""Metrics tracking shared by every training stage: JSONL, TensorBoard, optional W&B, PNG curves.

One row per ``log(step, metrics)`` call goes to ``RUN/metrics.jsonl`` as
``{"step": 12, "time": 3.4, "loss/train": 1.9, "perf/tokens_per_s": 812.0}`` (keys namespaced
``loss/``, ``eval/``, ``perf/``, ``rollout/`` ...), to TensorBoard under ``RUN/tensorboard`` and,
when a W&B project is configured, to Weights & Biases (imported only then).

Resume-safe: ``MetricsTracker(run_dir, resume_step=N)`` keeps the rows with ``step <= N`` and
drops the rest (TensorBoard purges them too), so re-running steps after a crash never leaves
duplicates. ``resume_step=None`` starts a fresh log.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
WANDB_ID_FILE = "wandb_id.txt"


@dataclass
class TrackingConfig:
    """Where metrics go besides ``metrics.jsonl`` (nest this in a stage config as ``tracking:``).

    ``plot_keys`` overrides the panels a stage plots into its PNG (None = the stage's default);
    ``"loss/train+eval/loss"`` overlays two keys in one panel.
    """

    tensorboard: bool = True
    wandb_project: str | None = None
    wandb_entity: str | None = None
    wandb_run_name: str | None = None
    log_every: int = 1
    plot_keys: list[str] | None = None

    def validate(self) -> None:
        from satori.config import require

        require(self.log_every >= 1, "tracking.log_every", f"must be >= 1, got {self.log_every}")


class MetricsTracker:
    """Write metrics rows to JSONL (+ TensorBoard, + W&B).

    Args:
        run_dir: the run folder; ``metrics.jsonl`` and ``tensorboard/`` are written there.
        resume_step: ``None`` for a fresh run (an existing log is replaced); otherwise the
            step the run resumes from: rows logged after it are dropped.
        config: a :class:`TrackingConfig` (defaults: TensorBoard on, no W&B).
        run_config: the stage's resolved config (a dict), given to W&B.
    """

    def __init__(self, run_dir: str | os.PathLike, resume_step: int | None = None,
                 config: TrackingConfig | None = None, run_config: dict[str, Any] | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or TrackingConfig()
        self.path = self.run_dir / METRICS_FILE
        self._start = time.monotonic()
        truncate_metrics(self.path, resume_step)
        self._handle = open(self.path, "a", encoding="utf-8")
        self._tensorboard = None
        if self.config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self._tensorboard = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), purge_step=purge)
        self._wandb = self._start_wandb(run_config) if self.config.wandb_project else None

    def _start_wandb(self, run_config: dict[str, Any] | None) -> Any:
        try:
            import wandb
        except ImportError:
            raise RuntimeError("tracking.wandb_project is set but wandb is not installed: "
                               "pip install wandb, or unset tracking.wandb_project") from None
        id_file = self.run_dir / WANDB_ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else wandb.util.generate_id()
        id_file.write_text(run_id)
        return wandb.init(project=self.config.wandb_project, entity=self.config.wandb_entity,
                          name=self.config.wandb_run_name or self.run_dir.name, id=run_id, resume="allow",
                          dir=str(self.run_dir), config=run_config)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Record ``metrics`` (name -> number) at ``step``; non-finite values are kept as null."""
        values = {k: _number(v) for k, v in metrics.items()}
        row = {"step": int(step), "time": round(time.monotonic() - self._start, 3), **values}
        self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()
        if self._tensorboard is not None:
            for key, value in values.items():
                if value is not None:
                    self._tensorboard.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log({k: v for k, v in values.items() if v is not None}, step=step)

    def flush(self) -> None:
        """Make everything logged so far durable."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if self._tensorboard is not None:
            self._tensorboard.flush()

    def close(self) -> None:
        if self._handle.closed:
            return
        self.flush()
        self._handle.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()

    def __enter__(self) -> "MetricsTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _number(value: Any) -> float | None:
    value = float(value.item() if hasattr(value, "item") else value)
    return value if math.isfinite(value) else None


def truncate_metrics(path: str | os.PathLike, resume_step: int | None) -> None:
    """Drop every row of ``path`` after ``resume_step`` (all rows when it is None); torn lines too."""
    from satori.io import atomic_write_text

    path = Path(path)
    if not path.exists():
        return
    keep = [] if resume_step is None else [
        line for line in read_metric_lines(path) if json.loads(line)["step"] <= resume_step]
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def read_metric_lines(path: Path) -> list[str]:
    """Whole JSON lines of a metrics file; a torn last line (killed writer) is skipped."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue
        lines.append(line)
    return lines


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl`` file in order."""
    return [json.loads(line) for line in read_metric_lines(Path(path))]


def plot_metrics(jsonl: str | os.PathLike, keys: list[str], out_png: str | os.PathLike,
                 title: str | None = None) -> Path:
    """Plot metrics of a JSONL file against step into ``out_png``, one panel per entry of ``keys``.

    An entry ``"loss/train+eval/loss"`` overlays several keys in one panel; keys without any
    value are left out (ValueError when nothing is left).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(jsonl)
    panels = [[k for k in entry.split("+") if any(row.get(k) is not None for row in rows)] for entry in keys]
    panels = [panel for panel in panels if panel]
    if not panels:
        raise ValueError(f"{jsonl}: none of the keys {keys} has a value to plot")
    figure, axes = plt.subplots(len(panels), 1, figsize=(7, 2.8 * len(panels)), squeeze=False, sharex=True)
    for axis, panel in zip(axes[:, 0], panels):
        for key in panel:
            points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
            steps, values = zip(*points)
            axis.plot(steps, values, label=key, marker="o" if len(points) < 30 else None, markersize=3)
        axis.set_ylabel(panel[0].split("/")[0] if len(panel) > 1 else panel[0])
        axis.grid(alpha=0.3)
        if len(panel) > 1:
            axis.legend(fontsize=8)
    axes[-1, 0].set_xlabel("step")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    os.replace(tmp, out)
    return out
