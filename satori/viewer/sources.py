"""Read the trajectory files satori writes into one table the viewer page shows.

Three kinds of JSONL rows are recognised by their fields:

* ``eval``: ``satori eval``'s ``<model>/samples.jsonl`` (``benchmark``, ``problem_id``, ``completion``);
* ``rollout``: PPO rollout samples, ``rollout_samples.jsonl`` in an ``rl`` run folder (``step``,
  ``prompt_kind``, ``completion``), written by :mod:`train.rl.sample_log`;
* ``demo``: synthesized demonstrations, ``satori synth``'s ``demos.jsonl`` (``problem``, ``coat``).

A PATH is such a file, or a folder holding them directly or one level down (an eval folder's
``<model>/samples.jsonl``, a run folder's ``rl1/rollout_samples.jsonl``). Each file is one *source*
(a checkpoint, a PPO run, a demonstration set), named after its model or folder.

Self-correction is the answer before the first ``<|reflect|>`` against the final one: eval rows
carry it (``before_reflect``); a restart rollout starts from a prefix of known correctness; a
demonstration with a critique round began with an attempt judged wrong (the pipeline refines only
wrong attempts). Nothing is graded here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satori.coat import EXPLORE, REFLECT
from satori.io import DataError, read_jsonl

FILE_NAMES = ("samples.jsonl", "rollout_samples.jsonl", "demos.jsonl")
MAX_GROUP_VALUES = 50   # a metadata key with more distinct values (an id, a spec) is no filter
RESTART_KINDS = {0: "plain", 1: "from correct", -1: "from incorrect"}


@dataclass
class Table:
    """Everything the page shows; ``samples`` rows use short keys (see :func:`sample_row`)."""

    sources: list[dict[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)          # prompts and questions, each stored once
    samples: list[dict[str, Any]] = field(default_factory=list)
    _text_index: dict[str, int] = field(default_factory=dict)

    def text_id(self, text: str) -> int:
        if text not in self._text_index:
            self._text_index[text] = len(self.texts)
            self.texts.append(text)
        return self._text_index[text]

    def group_keys(self) -> list[str]:
        """Keys to filter on: ``benchmark`` first, then metadata keys with few distinct values."""
        values: dict[str, set[str]] = {}
        for sample in self.samples:
            for key, value in sample["g"].items():
                values.setdefault(key, set()).add(value)
        keys = [k for k, v in values.items() if len(v) <= MAX_GROUP_VALUES or k == "benchmark"]
        return sorted(keys, key=lambda k: (k != "benchmark", k))

    def to_json(self) -> dict[str, Any]:
        """The page's data: per-sample group values are aligned to :meth:`group_keys`."""
        keys = self.group_keys()
        samples = [{**{k: v for k, v in s.items() if k != "g"}, "g": [s["g"].get(k) for k in keys]}
                   for s in self.samples]
        return {"sources": self.sources, "texts": self.texts, "groupKeys": keys, "samples": samples}


def find_files(path: str | Path) -> list[Path]:
    """The trajectory files ``path`` names: itself, or the known files in it and one level down.

    An eval folder's models come in the order its ``summary.json`` lists them (else by name).
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    found = [path / name for name in FILE_NAMES if (path / name).is_file()]
    subfolders = sorted(p for p in path.iterdir() if p.is_dir())
    summary = path / "summary.json"
    if summary.is_file():
        order = list(json.loads(summary.read_text(encoding="utf-8")).get("models", {}))
        subfolders.sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
    found += [sub / name for sub in subfolders for name in FILE_NAMES if (sub / name).is_file()]
    if not found:
        raise FileNotFoundError(f"{path}: holds none of {', '.join(FILE_NAMES)} (nor do its subfolders)")
    return found


def row_kind(row: dict[str, Any]) -> str | None:
    """``"eval"``, ``"rollout"``, ``"demo"`` or None, from the fields of one row."""
    if "completion" in row and "prompt_kind" in row and "step" in row:
        return "rollout"
    if "completion" in row and "benchmark" in row and "problem_id" in row:
        return "eval"
    if "coat" in row and "problem" in row:
        return "demo"
    return None


def load(paths: list[str | Path]) -> Table:
    """Every trajectory of every file under ``paths``, one source per file."""
    table = Table()
    for path in paths:
        for file in find_files(path):
            add_file(table, file)
    _name_sources(table)
    return table


def add_file(table: Table, path: Path) -> None:
    """Append the rows of one file as a new source; a row of another kind is a :class:`DataError`."""
    index = len(table.sources)
    kind, label = None, None
    for line, row in read_jsonl(path):
        this = row_kind(row)
        if this is None:
            raise DataError(f"{path}:{line}: not a trajectory row (expected satori eval samples, PPO rollout "
                            f"samples or synthesized demos; got keys {', '.join(sorted(row)[:8])})")
        if kind is not None and this != kind:
            raise DataError(f"{path}:{line}: a {this} row in a file of {kind} rows")
        kind = this
        label = label or (row.get("model") if kind == "eval" else None)
        try:
            table.samples.append(sample_row(table, index, kind, row))
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}:{line}: malformed {kind} row ({type(exc).__name__}: {exc})") from None
    if kind is None:
        raise DataError(f"{path}: no rows")
    table.sources.append({"name": str(label or path.parent.name or path.stem), "kind": kind, "path": str(path)})


def sample_row(table: Table, source: int, kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """One trajectory with short keys: ``s`` source, ``k`` pairing key (same problem and sample index in
    another source), ``pid``, ``q`` prompt text id, ``gold``, ``pre`` restart prefix, ``t`` what the policy
    wrote, ``a`` extracted answer, ``ok`` verdict, ``st`` status, ``sc`` self-correction transition,
    ``rk`` restart kind, ``g`` group values, ``step`` PPO step, ``rw`` reward terms, ``n`` sample index,
    ``tok`` tokens, ``fin`` finish reason, ``r``/``e`` has a ``<|reflect|>``/``<|explore|>`` step."""
    if kind == "eval":
        before = row.get("before_reflect")
        out = {"pid": str(row["problem_id"]), "q": table.text_id(row.get("prompt") or ""), "pre": "",
               "t": row["completion"], "a": row.get("extracted"), "ok": bool(row["correct"]),
               "st": row.get("status"), "rk": "plain", "n": int(row.get("sample", 0)),
               "tok": row.get("tokens"), "fin": row.get("finish_reason"), "step": None, "rw": None,
               "sc": _transition(before["correct"], row["correct"]) if before else None,
               "g": {"benchmark": str(row["benchmark"]), **_meta_groups(row.get("meta"))}}
        out["k"] = f"{row['benchmark']}\n{out['pid']}\n{out['n']}"
    elif kind == "rollout":
        status = int(row.get("reflect_status", 0))
        out = {"pid": str(row["problem_id"]), "q": table.text_id(row.get("question") or ""),
               "pre": row.get("prefix") or "", "t": row["completion"], "a": row.get("extracted"),
               "ok": bool(row["correct"]), "st": row.get("status"), "rk": RESTART_KINDS.get(status, str(status)),
               "n": None, "tok": row.get("tokens"), "fin": row.get("finish_reason"), "step": int(row["step"]),
               "rw": row.get("reward"), "k": None, "g": {},
               "sc": _transition(status == 1, row["correct"]) if status else None}
    else:
        from satori.grading import extract_answer

        rounds = int(row.get("rounds", 0))
        out = {"pid": str(row.get("id", "")), "q": table.text_id(row["problem"]), "pre": "", "t": row["coat"],
               "a": extract_answer(row["coat"]), "ok": True, "st": "correct", "rk": "plain", "n": None,
               "tok": None, "fin": None, "step": None, "rw": None,
               "sc": _transition(rounds == 0, True) if REFLECT in row["coat"] else None,
               "g": {"benchmark": str(row.get("source", "")), "demo kind": str(row.get("kind", ""))}}
        out["k"] = f"\n{out['pid']}\n0"
    gold = row.get("gold")
    out["gold"] = " | ".join(map(str, gold)) if isinstance(gold, list) else ("" if gold is None else str(gold))
    out["r"] = int(REFLECT in out["t"])
    out["e"] = int(EXPLORE in out["t"])
    out["s"] = source
    return out


def _transition(before: bool, final: bool) -> str:
    return f"{'correct' if before else 'incorrect'}->{'correct' if final else 'incorrect'}"


def _meta_groups(meta: Any) -> dict[str, str]:
    """The scalar fields of a problem's metadata (subject, level, difficulty ...) as strings."""
    if not isinstance(meta, dict):
        return {}
    return {str(k): str(v) for k, v in meta.items()
            if isinstance(v, (str, int, float, bool)) and k not in ("benchmark", "id")}


def _name_sources(table: Table) -> None:
    """Sources sharing a name (``rl1`` in two eval folders) get the nearest folder that tells them apart
    in front of it (``a/rl1``, ``b/rl1``)."""
    by_name: dict[str, list[dict[str, str]]] = {}
    for source in table.sources:
        by_name.setdefault(source["name"], []).append(source)
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        folders = [[p.name for p in Path(s["path"]).resolve().parents if p.name != name] for s in same]
        depth = next((i for i in range(min(map(len, folders))) if len({f[i] for f in folders}) == len(same)), None)
        for index, (source, names) in enumerate(zip(same, folders)):
            source["name"] = f"{names[depth]}/{name}" if depth is not None else f"{name}#{index + 1}"
