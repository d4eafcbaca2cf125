"""The PPO prompt set in OpenRLHF's prompt format: one JSON object per line.

    {"id": ..., "prompt": "<full prompt text>", "label": "{\\"gold\\": ..., \\"reflect_status\\": -1}",
     "reflect_status": -1}

OpenRLHF reads it with ``--data.prompt_dataset FILE --data.input_key prompt --data.label_key label``
(no chat template flag: the prompt text is already built with the run's ``data.template``) and
hands ``label`` unchanged to the reward function (``reward_func.py``). The label is a JSON
string so golds of any shape (a string or a list of answers) sit in one Arrow column.

Plain prompts are the problem under the template; restart prompts append a prefix of an
earlier trajectory ending in ``<|reflect|>`` (``reflect_status`` +1 from a correct one, -1
from an incorrect one). OpenRLHF trains on a fixed prompt set, so restart states come from
samples of the starting checkpoint only (the paper's source; ``rae.online`` is not
available). Every row fits ``data.max_prompt_len`` tokens (restarts lose whole trailing
steps, never the problem or the final ``<|reflect|>``), so OpenRLHF never cuts a prompt.
The training file holds exactly ``max_steps * prompts_per_step`` rows: one OpenRLHF
episode is the run. The same rows are written in the official Satori RL format
(``query``/``answer``/``reflect_status``, ``train.rl.satori_rl``) as ``satori_rl.jsonl``, which the
authors' trainer reads with ``--input_key query`` and ``satori rl`` with ``data.train_format=satori-rl``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satori.io import atomic_write_jsonl
from satori.problems import Problem
from train.rl.config import RLConfig
from train.rl.problem_sets import load_problem_set
from train.rl.rae import RestartBuffer, RolloutPrompt, offline_problems, prompt_head, shorten_to_fit
from train.rl.satori_rl import load_rl_prompts, write_rl_prompts

PROMPT_KEY = "prompt"
RAE_WITH_OFFICIAL_ROWS = ("the official RL rows (data.train_format=satori-rl) carry their own restart states; "
                          "set rae.enabled=false")
LABEL_KEY = "label"


def encode_label(gold: str | list[str], reflect_status: int, prefix: str = "") -> str:
    """The ``label`` column: gold answer(s), reflect status and restart prefix as a JSON string."""
    label = {"gold": gold, "reflect_status": reflect_status, **({"prefix": prefix} if prefix else {})}
    return json.dumps(label, ensure_ascii=False)


def prompt_row(prompt: RolloutPrompt, template: str, tokenizer: Any) -> dict[str, Any]:
    """One JSONL row for ``prompt`` (problem under ``template``, then the restart prefix if any)."""
    return {"id": prompt.problem_id, PROMPT_KEY: prompt_head(prompt, template, tokenizer) + prompt.prefix,
            LABEL_KEY: encode_label(prompt.gold, prompt.reflect_status, prompt.prefix), "reflect_status": prompt.reflect_status}


def restart_states(prompts: list[RolloutPrompt], trajectories: list[list[str]], config: RLConfig) -> RestartBuffer:
    """Grade ``trajectories[i]`` (samples answering plain ``prompts[i]``) and cut each valid one
    into a restart state, as the PPO driver seeds its buffer (``rae.*`` backtrack range).
    """
    from satori.grading import verify_batch

    flat = [(prompt, text) for prompt, texts in zip(prompts, trajectories) for text in texts]
    verdicts = verify_batch([(text, prompt.gold) for prompt, text in flat], workers=config.reward.processes_per_worker,
                            timeout=config.reward.verify_timeout)
    rae = config.rae
    buffer = RestartBuffer(max(len(flat), 1), rae.min_backtrack, rae.max_backtrack, config.seed)
    for (prompt, text), verdict in zip(flat, verdicts):
        buffer.add(prompt, text, verdict.status == "correct")
    return buffer


def sample_trajectories(config: RLConfig, problems: list[Problem], tokenizer: Any, engine: Any) -> list[list[str]]:
    """``rae.offline_samples`` responses of the starting policy per problem (``engine``: a satori rollout engine)."""
    from satori.engines.base import SamplingParams
    from satori.prompts import encode_prompt

    params = SamplingParams(max_new_tokens=config.rollout.max_new_tokens, temperature=config.rollout.temperature,
                            top_p=config.rollout.top_p, n=config.rae.offline_samples, seed=config.seed, logprobs=False)
    groups = engine.generate([encode_prompt(p.question, tokenizer, config.data.template) for p in problems], params)
    return [[c.text for c in group] for group in groups]


@dataclass
class ExportSummary:
    train: Path
    eval: Path
    official: Path      # the training rows in the official Satori RL format
    rows: int
    restarts: dict[int, int] = field(default_factory=dict)   # reflect_status -> rows
    dropped_too_long: int = 0


def export_prompt_set(config: RLConfig, out_dir: str | Path, tokenizer: Any,
                      trajectories: list[list[str]] | None = None, engine: Any = None) -> ExportSummary:
    """Write ``train.jsonl``, ``eval.jsonl`` and ``satori_rl.jsonl`` into ``out_dir`` (atomically).

    The problems are the ones the PPO driver would use (same specs, sizes and seeds), or with
    ``data.train_format=satori-rl`` the official rows as they are. With RAE, restart states are cut from ``trajectories`` (samples answering the driver's choice of
    ``rae.offline_problems`` training problems), or from samples drawn with ``engine`` when not
    given, and make up ``rae.restart_ratio`` of the pool the training rows are drawn from.
    """
    data, rae = config.data, config.rae
    out_dir = Path(out_dir)
    evaluation = load_problem_set(data.eval, data.eval_size, "test", config.seed + 1, data.difficulty)
    if data.train_format == "satori-rl":   # official rows, their restart rows included
        if rae.enabled:
            raise ValueError(RAE_WITH_OFFICIAL_ROWS)
        train, pool = [], load_rl_prompts(data.train, tokenizer, data.train_size)
    else:
        train = load_problem_set(data.train, data.train_size, "train", config.seed, data.difficulty)
        pool = [RolloutPrompt.plain(p) for p in train]
    if rae.enabled:
        offline = offline_problems(train, rae.offline_problems, config.seed)
        if trajectories is None:
            if engine is None:
                raise ValueError("restart states need trajectories or an engine to sample them with")
            trajectories = sample_trajectories(config, offline, tokenizer, engine)
        buffer = restart_states([RolloutPrompt.plain(p) for p in offline], trajectories, config)
        pool += buffer.sample(round(len(pool) * rae.restart_ratio / (1 - rae.restart_ratio)), rae.balance)

    length = lambda p: len(tokenizer.encode(prompt_row(p, data.template, tokenizer)[PROMPT_KEY],  # noqa: E731
                                            add_special_tokens=False))
    fitted = [shorten_to_fit(p, length, data.max_prompt_len) for p in pool]
    summary = ExportSummary(out_dir / "train.jsonl", out_dir / "eval.jsonl", out_dir / "satori_rl.jsonl", 0,
                            dropped_too_long=sum(p is None for p in fitted))
    pool = [p for p in fitted if p is not None]
    if not pool:
        raise ValueError(f"no training prompt fits data.max_prompt_len={data.max_prompt_len} tokens; raise it")
    rows = _draw(pool, config.max_steps * config.rollout.prompts_per_step, random.Random(config.seed))
    summary.rows = len(rows)
    for status in (-1, 1):
        summary.restarts[status] = sum(p.reflect_status == status for p in rows)
    atomic_write_jsonl(summary.train, (prompt_row(p, data.template, tokenizer) for p in rows))
    write_rl_prompts(summary.official, rows, data.template, tokenizer)
    atomic_write_jsonl(summary.eval, (prompt_row(RolloutPrompt.plain(p), data.template, tokenizer)
                                      for p in evaluation))
    return summary


def _draw(pool: list[RolloutPrompt], count: int, rng: random.Random) -> list[RolloutPrompt]:
    """``count`` prompts: whole shuffled passes over ``pool``, the last one cut short."""
    rows: list[RolloutPrompt] = []
    while len(rows) < count:
        epoch = pool[:]
        rng.shuffle(epoch)
        rows += epoch[:count - len(rows)]
    return rows
