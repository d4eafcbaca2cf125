"""A pretraining corpus from the procedural families' train split: worked solutions and drills.

The embedded default is pretrained on this corpus before it is format-tuned, as Satori
format-tunes a pretrained math model. Two kinds of documents:

- ``solution``: ``Problem: QUESTION`` then the reference worked solution, each step stating its
  local computation, ending in ``\\boxed{}`` (and, for a share of them, the check of the answer);
- ``drill``: lines of single-operation facts (``7 - 9 = -2``, ``6/8 = 3/4``), the claims of the
  train problems' steps plus full tables of small operands, so each atomic step is seen often.

Problems come only from the ``train`` split (a hash of the question decides the split, so no
test-split problem can enter the corpus)::

    from data_synthesis.corpus import CorpusConfig, build_corpus
    docs = build_corpus(CorpusConfig(problems=1000), seed=0)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from data_synthesis.families import FAMILIES, DIFFICULTIES, generate_problems, problem_state, solve_steps
from satori.config import require

@dataclass
class CorpusConfig:
    """What the corpus holds: ``problems`` train problems per (family, difficulty) cell, drills."""

    families: list[str] = field(default_factory=lambda: ["arith", "fractions", "linear"])
    difficulties: list[int] = field(default_factory=lambda: [0, 1])
    problems: int = 5000
    check_share: float = 0.5        # share of solutions followed by the check of their answer
    drill_lines: int = 16           # facts per drill document
    table_max: int = 20             # +/- tables over 0..table_max, * tables over 2..12 x 0..table_max

    def validate(self) -> None:
        unknown = sorted(set(self.families) - set(FAMILIES))
        require(bool(self.families) and not unknown, "corpus.families",
                f"choose from {sorted(FAMILIES)} (unknown: {unknown})")
        require(bool(self.difficulties) and all(d in DIFFICULTIES for d in self.difficulties),
                "corpus.difficulties", f"each must be one of {list(DIFFICULTIES)}")
        require(self.problems >= 1, "corpus.problems", "must be >= 1")
        require(0 <= self.check_share <= 1, "corpus.check_share", "must be in [0, 1]")
        require(self.drill_lines >= 1, "corpus.drill_lines", "must be >= 1")
        require(self.table_max >= 0, "corpus.table_max", "must be >= 0")


def solution_document(problem, rng: random.Random, check_share: float) -> tuple[str, list[str]]:
    """The worked-solution document of a procedural ``problem`` and the claims its steps state."""
    family, state = problem_state(problem)
    steps = solve_steps(family, state)
    text = f"Problem: {problem.question}\nSolution: {problem.solution}"
    if steps and rng.random() < check_share:
        text += f" {family.check_text(steps)}"
    return text, [step.claim_text() for step in steps]


def table_facts(table_max: int) -> list[str]:
    """Addition, subtraction and multiplication facts over small operands."""
    facts = []
    for a in range(table_max + 1):
        for b in range(table_max + 1):
            facts += [f"{a} + {b} = {a + b}", f"{a} - {b} = {a - b}"]
    facts += [f"{a} * {b} = {a * b}" for a in range(2, 13) for b in range(table_max + 1)]
    return facts


def build_corpus(config: CorpusConfig, seed: int) -> list[dict[str, str]]:
    """Documents ``{"kind", "text"}`` in an order ``seed`` fixes (the run's seed): solutions interleaved with drills."""
    config.validate()
    rng = random.Random(seed)
    documents, claims = [], []
    for family in config.families:
        for difficulty in config.difficulties:
            for problem in generate_problems(family, config.problems, seed, "train", difficulty, strict=False):
                text, stated = solution_document(problem, rng, config.check_share)
                documents.append({"kind": "solution", "text": text})
                claims.extend(stated)
    facts = claims + table_facts(config.table_max)
    rng.shuffle(facts)
    for start in range(0, len(facts), config.drill_lines):
        documents.append({"kind": "drill", "text": "\n".join(facts[start: start + config.drill_lines])})
    rng.shuffle(documents)
    return documents
