"""Restart-and-explore (RAE): prompts that restart from intermediate states of earlier trajectories.

A restart state is the problem plus a prefix of an earlier COAT trajectory cut at a step
boundary, with ``<|reflect|>`` appended, labelled with ``reflect_status`` +1 (the prefix came
from a correct trajectory) or -1 (from an incorrect one); plain problems have status 0.
Restart states come from samples of the starting checkpoint (offline, as in the paper) and,
optionally, from the policy's own recent rollouts (online), kept in a bounded buffer, or from rows of
the official RL data (``train.rl.satori_rl``), whose prompt text is already templated (``templated``).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, TypeVar

from satori import coat
from satori.problems import Problem
from satori.prompts import build_prompt

T = TypeVar("T")


@dataclass
class RolloutPrompt:
    """One prompt of a PPO step: a plain problem (``prefix == ""``) or a restart state.

    ``question`` is the problem, put under the run's template, or with ``templated`` the whole prompt
    text before the prefix, used as it is (official RL data).
    """

    problem_id: str
    question: str
    gold: str | list[str]
    prefix: str = ""
    reflect_status: int = 0
    templated: bool = False

    @classmethod
    def plain(cls, problem: Problem) -> "RolloutPrompt":
        return cls(problem.id, problem.question, problem.gold)

    @property
    def is_restart(self) -> bool:
        return self.reflect_status != 0


def restart_from(prompt: RolloutPrompt, trajectory: str, correct: bool, backtrack: int) -> RolloutPrompt | None:
    """The restart state cutting ``trajectory`` ``backtrack`` steps before its end, or None.

    Only valid COAT trajectories are used (a malformed one has no reliable step boundaries).
    """
    if not coat.is_valid(trajectory):
        return None
    prefix = coat.restart_prefix(trajectory, backtrack)
    if prefix is None:
        return None
    return replace(prompt, prefix=prefix, reflect_status=1 if correct else -1)


def prompt_head(prompt: RolloutPrompt, template: str, tokenizer: Any) -> str:
    """The prompt text before the restart prefix: the question under ``template``, or as it is when templated."""
    return prompt.question if prompt.templated else build_prompt(prompt.question, template, tokenizer)


def encode_rollout_prompt(prompt: RolloutPrompt, tokenizer: Any, template: str) -> list[int]:
    """Token ids of ``prompt``: the head's, then the restart prefix's (tokenized apart, no special tokens added)."""
    ids = tokenizer.encode(prompt_head(prompt, template, tokenizer), add_special_tokens=False)
    return ids + tokenizer.encode(prompt.prefix, add_special_tokens=False) if prompt.prefix else ids


def shorten_to_fit(prompt: RolloutPrompt, length_of: Callable[[RolloutPrompt], int],
                   max_len: int) -> RolloutPrompt | None:
    """``prompt`` if it fits ``max_len`` tokens; else the same restart cut at earlier steps; else None.

    Never truncates text: a restart loses whole trailing steps (keeping the final
    ``<|reflect|>`` and the problem statement); a plain prompt that is too long is dropped.
    """
    while True:
        if length_of(prompt) <= max_len:
            return prompt
        if not prompt.is_restart:
            return None
        body = prompt.prefix[: -len(coat.REFLECT)]
        shorter = coat.restart_prefix(body, 1)
        if shorter is None:
            return None
        prompt = replace(prompt, prefix=shorter)


class RestartBuffer:
    """Bounded pools of restart states from correct and from incorrect trajectories.

    Adding to a full pool evicts its oldest state. ``sample`` draws without replacement
    within a call, half from each pool when ``balance`` (falling back to the other pool
    when one runs short).
    """

    def __init__(self, capacity: int, min_backtrack: int = 1, max_backtrack: int = 3, seed: int = 0):
        self.capacity = capacity
        self.min_backtrack = min_backtrack
        self.max_backtrack = max_backtrack
        self.rng = random.Random(seed)
        self.pools: dict[int, deque[RolloutPrompt]] = {1: deque(maxlen=capacity), -1: deque(maxlen=capacity)}

    def __len__(self) -> int:
        return sum(len(pool) for pool in self.pools.values())

    def add(self, prompt: RolloutPrompt, trajectory: str, correct: bool) -> bool:
        """Cut ``trajectory`` (a response to plain ``prompt``) at a random step boundary and keep it."""
        steps = len(coat.step_offsets(trajectory))
        highest = min(self.max_backtrack, steps - 1)
        if highest < self.min_backtrack:
            return False
        state = restart_from(prompt, trajectory, correct, self.rng.randint(self.min_backtrack, highest))
        if state is None:
            return False
        self.pools[state.reflect_status].append(state)
        return True

    def sample(self, k: int, balance: bool = True) -> list[RolloutPrompt]:
        """Up to ``k`` restart states."""
        if not balance:
            everything = [*self.pools[1], *self.pools[-1]]
            return self.rng.sample(everything, min(k, len(everything)))
        want = {-1: (k + 1) // 2, 1: k // 2}
        for status, other in ((-1, 1), (1, -1)):
            shortfall = want[status] - len(self.pools[status])
            if shortfall > 0:
                want[status] -= shortfall
                want[other] += shortfall
        picked = []
        for status in (-1, 1):
            picked += self.rng.sample(list(self.pools[status]), min(want[status], len(self.pools[status])))
        self.rng.shuffle(picked)
        return picked

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(),
                "pools": {str(s): [asdict(p) for p in pool] for s, pool in self.pools.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        for status, rows in state["pools"].items():
            self.pools[int(status)] = deque((RolloutPrompt(**r) for r in rows), maxlen=self.capacity)


def offline_problems(train: list[T], count: int, seed: int) -> list[T]:
    """The training problems (or plain prompts) whose samples from the starting checkpoint seed the restart states."""
    return random.Random(seed).sample(train, min(count, len(train)))
