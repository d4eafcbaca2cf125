"""PPO prompts in the official RL format (``query``, ``answer``, ``reflect_status``; see ``satori.formats``).

Reading: every row becomes a templated :class:`RolloutPrompt` (its text is used as it is, no second
template). A restart row (``reflect_status`` ±1) is split into the prompt and the trajectory prefix
ending in ``<|reflect|>`` (:func:`satori.formats.split_restart_query`), so it is encoded, shortened,
graded (prefix + response) and rewarded exactly as a restart state built by the RAE buffer.

Writing: plain prompts and restart states (e.g. a RAE restart set) as rows the official trainer reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from satori.formats import (RL_ANSWER, RL_QUERY, RL_REQUIRED, RL_STATUS, assistant_marker, checked_rows,
                            reflect_status_of, rl_row, split_restart_query)
from satori.io import DataError, atomic_write_jsonl
from satori.problems import normalize_gold
from train.rl.rae import RolloutPrompt, prompt_head

FORMAT = "satori-rl"


def load_rl_prompts(source: str | os.PathLike, tokenizer: Any, limit: int | None = None,
                    split: str = "train") -> list[RolloutPrompt]:
    """The first ``limit`` rows of ``source`` (local file or hub dataset) as prompts; bad rows raise DataError
    naming file and line. ``tokenizer`` tells where a chat-templated query's trajectory starts."""
    marker = assistant_marker(tokenizer)
    label = Path(str(source)).stem
    prompts = []
    hint = "the official RL rows hold the templated prompt, its gold answer and (optionally) the reflect status"
    for where, index, row in checked_rows(source, RL_REQUIRED, FORMAT, hint, split):
        query, gold = row[RL_QUERY], normalize_gold(row[RL_ANSWER])
        if not isinstance(query, str) or not query.strip():
            raise DataError(f"{where}: empty or missing {RL_QUERY!r}")
        if gold is None or gold == [] or gold == "":
            raise DataError(f"{where}: no {RL_ANSWER!r}")
        status = reflect_status_of(row.get(RL_STATUS), where)
        problem_id = str(row["id"]) if row.get("id") is not None else f"{label}-{index}"
        if status == 0:
            prompts.append(RolloutPrompt(problem_id, query, gold, templated=True))
        else:
            parts = split_restart_query(query, marker)
            if parts is None:
                raise DataError(f"{where}: {RL_STATUS} {status} marks a restart, but the query does not end in "
                                "<|reflect|> after a trajectory prefix")
            prompts.append(RolloutPrompt(problem_id, parts[0], gold, parts[1], status, templated=True))
        if limit is not None and len(prompts) >= limit:
            break
    return prompts


def rl_rows(prompts: Iterable[RolloutPrompt], template: str, tokenizer: Any) -> Iterable[dict[str, Any]]:
    """Official RL rows of ``prompts``: the full prompt text (head under ``template`` + prefix), gold, status."""
    for prompt in prompts:
        yield rl_row(prompt_head(prompt, template, tokenizer) + prompt.prefix, prompt.gold, prompt.reflect_status)


def write_rl_prompts(path: str | os.PathLike, prompts: Iterable[RolloutPrompt], template: str,
                     tokenizer: Any) -> Path:
    """Write ``prompts`` to ``path`` (JSONL, atomically) in the official RL format; returns the path."""
    atomic_write_jsonl(path, rl_rows(prompts, template, tokenizer))
    return Path(path)
