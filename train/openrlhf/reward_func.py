"""Satori's reward as an OpenRLHF custom reward function (``--reward.remote_url PATH/reward_func.py``).

A standalone file: OpenRLHF (0.11.2) loads it by path in each vLLM engine actor
(``importlib.util.spec_from_file_location``) and calls, for every finished sample::

    reward_func(queries, prompts, labels) -> {"rewards": Tensor (B,), "scores": Tensor (B,),
                                              "extra_logs": {name: float}}

- ``queries``: prompt + response text (decoded with special tokens kept, so the COAT action
  tokens and the end-of-sequence token are in it); ``prompts``: the prompt texts;
- ``labels``: the ``label`` column of the exported prompt set, a JSON string
  ``{"gold": ..., "reflect_status": -1 | 0 | 1, "prefix": restart prefix (restarts only)}``
  (see ``train.openrlhf.export``).

The response is graded by satori's verifier (worker processes killed after
``verify_timeout`` seconds: status ``timeout``, never a hang) and shaped by
``train.rl.reward.reward_terms``: 0 when correct, -1 otherwise (wrong, no answer, timeout),
plus ``+bonus_scale`` for a restart from an incorrect prefix that ends correct and
``-bonus_scale`` for a restart from a correct prefix that ends incorrect. A restart is graded
as the whole trajectory, prefix + response, as satori's own PPO loop does: confirming a correct
prefix keeps it correct, a wrong answer in the prefix stands until the response replaces it.
``scores`` is 1 for a correct answer
(OpenRLHF's dynamic filtering reads it). The overlong penalty is OpenRLHF's own
(``--reward.overlong_buffer_len``), which has the same form as satori's.

Settings come from ``reward_settings.json`` beside this file (written by the launcher):
``bonus_scale``, ``verify_timeout``, ``verifier_processes``. The machines running OpenRLHF's
vLLM engines need satori installed (``pip install satori``) for the verifier and the reward terms.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SETTINGS_FILE = "reward_settings.json"
DEFAULT_SETTINGS = {"bonus_scale": 0.5, "verify_timeout": 5.0, "verifier_processes": 1}


@functools.lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    """``DEFAULT_SETTINGS`` updated from ``reward_settings.json`` beside this file, if present."""
    path = Path(__file__).with_name(SETTINGS_FILE)
    return {**DEFAULT_SETTINGS, **(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})}


def parse_label(label: str) -> tuple[Any, int, str]:
    """``(gold, reflect_status, prefix)`` from a label written by ``train.openrlhf.export.encode_label``."""
    data = json.loads(label)
    return data["gold"], int(data.get("reflect_status", 0)), data.get("prefix", "")


def response_of(query: str, prompt: str) -> str:
    """The response part of ``query``.

    ``query`` normally starts with ``prompt``; when OpenRLHF cut the prompt on the left (too
    long for its budget), the response starts after the prompt's last 64 characters.
    """
    if query.startswith(prompt):
        return query[len(prompt):]
    tail = prompt[-64:]
    at = query.find(tail)
    return query[at + len(tail):] if tail and at >= 0 else ""


def reward_func(queries: list[str], prompts: list[str], labels: list[str]) -> dict[str, Any]:
    """Satori's reward for each ``(query, prompt, label)``; see the module docstring."""
    import torch

    from satori.grading import verify_batch
    from train.rl.config import RewardConfig
    from train.rl.reward import Graded, reward_terms

    config = settings()
    golds, statuses, prefixes = zip(*(parse_label(label) for label in labels)) if labels else ((), (), ())
    trajectories = [prefix + response_of(q, p) for q, p, prefix in zip(queries, prompts, prefixes)]
    verdicts = verify_batch(list(zip(trajectories, golds)), workers=int(config["verifier_processes"]),
                            timeout=float(config["verify_timeout"]))
    correct = [v.status == "correct" for v in verdicts]
    reward = RewardConfig(bonus_scale=float(config["bonus_scale"]))  # OpenRLHF adds its own overlong penalty
    terms = [reward_terms(Graded(ok, status), reward) for ok, status in zip(correct, statuses)]
    n = max(len(terms), 1)
    return {
        "rewards": torch.tensor([t["reward/total"] for t in terms], dtype=torch.float32),
        "scores": torch.tensor([float(ok) for ok in correct], dtype=torch.float32),
        "extra_logs": {"accuracy": sum(correct) / n,
                       "reflection_bonus": sum(t["reward/reflection"] for t in terms) / n,
                       "verify_timeout": sum(v.status == "timeout" for v in verdicts) / n},
    }
