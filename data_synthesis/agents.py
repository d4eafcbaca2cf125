"""The three synthesis roles behind one small interface: generator, critic, reward.

- A **generator** turns :class:`Request` s (a problem, optionally a previous attempt and the
  critic's verdict on it) into :class:`Attempt` s: solution steps ending in ``\\boxed{}``.
- A **critic** finds the first wrong step of an attempt and writes the reflection naming it,
  or writes the verification of a correct attempt.
- The **reward** role decides correctness with ``satori.grading`` and optionally ranks
  candidates with an outcome reward model.

Scripted generator/critic work on the structured states of the procedural families (no
model); the LLM ones prompt any :class:`~data_synthesis.backends.base.TextBackend`.
"""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from data_synthesis.families import MISTAKE_KINDS, SolutionStep, problem_state, solve_steps
from data_synthesis.expr import format_number, render, value
from satori.coat import ACTION_TOKENS
from satori.latex import last_boxed
from satori.problems import Problem

_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]+\|>")
_ACTION = re.compile("|".join(re.escape(t) for t in ACTION_TOKENS))
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_STEP_REF = re.compile(r"\bstep\s+(\d+)", re.I)


@dataclass
class Attempt:
    """A proposed solution: ``steps`` (plain text, the last holding ``\\boxed{answer}``).

    ``trace`` holds the structured steps when a scripted generator wrote it; ``error`` is set
    when the backend request failed (then ``steps`` is empty); ``correct`` caches the judgement.
    """

    steps: list[str]
    answer: str | None
    trace: list[SolutionStep] | None = None
    error: str | None = None
    tokens: Counter = field(default_factory=Counter)
    correct: bool | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.steps)


@dataclass
class Critique:
    """``wrong_step``: 0-based index of the first wrong step (None: none found); ``reflection``: its text."""

    wrong_step: int | None
    reflection: str
    error: str | None = None
    tokens: Counter = field(default_factory=Counter)


@dataclass
class Request:
    """Ask for a fresh attempt, or (with ``previous`` and ``critique``) a fix from the wrong step on.

    ``want_mistake`` is a hint only scripted generators can honour (None: their own rate);
    ``history`` holds every earlier attempt on the problem (``previous`` is the last).
    """

    problem: Problem
    seed: int
    previous: Attempt | None = None
    critique: Critique | None = None
    want_mistake: bool | None = None
    history: list[Attempt] = field(default_factory=list)


class Generator(ABC):
    @abstractmethod
    def generate(self, requests: list[Request]) -> list[Attempt]:
        """One attempt per request; a refinement holds only the steps from the fixed step on."""


class Critic(ABC):
    @abstractmethod
    def critique(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        """Locate the first wrong step of each (incorrect) attempt and write the reflection."""

    @abstractmethod
    def verification(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        """Write the reflection that checks each (correct) attempt."""


def answer_step(text: str, answer: str) -> str:
    return f"{text} The answer is \\boxed{{{answer}}}."


# ---------------------------------------------------------------------------------------------
# Scripted agents (procedural problems only)
# ---------------------------------------------------------------------------------------------

class ScriptedGenerator(Generator):
    """Writes solutions from the structured problem; makes a realistic mistake at ``mistake_rate``."""

    tries_per_kind = 3          # random slips differ between tries

    def __init__(self, mistake_rate: float = 0.5, mistake_kinds: tuple[str, ...] = MISTAKE_KINDS):
        self.mistake_rate = mistake_rate
        self.mistake_kinds = tuple(mistake_kinds)

    def generate(self, requests: list[Request]) -> list[Attempt]:
        return [self._one(r) for r in requests]

    def _one(self, request: Request) -> Attempt:
        family, state = problem_state(request.problem)
        if family is None:
            return Attempt([], None, error="the scripted generator needs a procedural problem (meta.family/spec)")
        rng = random.Random(request.seed)
        first, seen = 0, set()
        if request.previous is not None:
            wrong = request.critique.wrong_step
            state = request.previous.trace[wrong].before
            first = 1                      # prefer a new slip after the redone step
            seen = {s.text for a in request.history or [request.previous] for s in a.trace or ()}
        correct = solve_steps(family, state)
        mistake = request.want_mistake
        if mistake is None:
            mistake = rng.random() < self.mistake_rate
        steps = (self._with_mistake(family, correct, first, seen, rng, request.problem.gold)
                 if mistake else None) or correct
        answer = format_number(family.final_value(steps[-1].after))
        texts = [s.text for s in steps]
        texts[-1] = answer_step(texts[-1], answer)
        return Attempt(texts, answer, trace=steps)

    def _with_mistake(self, family, correct: list[SolutionStep], first: int, seen: set[str], rng: random.Random,
                      gold: str) -> list[SolutionStep] | None:
        """``correct`` with one wrong step and its follow-through.

        The wrong step sits at index >= ``first`` when possible and never repeats a step text in
        ``seen`` (a refinement does not make the very slip the critic just named).
        """
        kinds = [k for k in self.mistake_kinds if k in family.kinds]
        positions = list(range(len(correct)))
        rng.shuffle(positions)
        positions.sort(key=lambda i: i < first)
        for position in positions:
            rng.shuffle(kinds)
            for kind in kinds * self.tries_per_kind:
                wrong = family.mistake(correct[position].before, kind, rng)
                if wrong is None or wrong.text in seen:
                    continue
                steps = correct[:position] + [wrong] + solve_steps(family, wrong.after)
                if format_number(family.final_value(steps[-1].after)) != gold:
                    return steps
        return None


class ScriptedCritic(Critic):
    """Re-checks a solution by recomputing each step's claim in order, as the reflection then reads.

    ``Check: 9 - 7 = 2, 1 + 2 = 3, not -7.`` names the first wrong step through a computation the
    model can redo itself (a check that only restates the answer teaches copying), and a correct
    solution's check recomputes every claim before ``Correct.``.
    """

    def critique(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        return [self._one(p, a) for p, a in zip(problems, attempts)]

    def _one(self, problem: Problem, attempt: Attempt) -> Critique:
        family, _ = problem_state(problem)
        if family is None or attempt.trace is None:
            return Critique(None, "", error="the scripted critic needs a scripted attempt on a procedural problem")
        checked = []
        for index, step in enumerate(attempt.trace):
            claim_holds = value(step.claim) == value(step.result)
            if claim_holds and family.equivalent(step.before, step.after):
                checked.append(step.claim_text())
                continue
            right = family.step(step.before)
            if right.path != step.path:
                verdict = f"{step.claim_text()} is wrong here: {right.claim_text()} comes first"
            elif not claim_holds:
                verdict = f"{right.claim_text()}, not {render(step.result)}"
            else:
                verdict = f"{step.claim_text()} is wrong: it should be {right.claim_text()}"
            return Critique(index, recheck([*checked, verdict]))
        return Critique(None, "All steps check out.")

    def verification(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        out = []
        for problem, attempt in zip(problems, attempts):
            family, _ = problem_state(problem)
            if family is None or attempt.trace is None:
                out.append(Critique(None, "", error="the scripted critic needs a scripted attempt"))
            else:
                out.append(Critique(None, recheck([s.claim_text() for s in attempt.trace], "Correct.")))
        return out


def recheck(parts: list[str], verdict: str = "") -> str:
    """``Check: PART, PART.`` followed by ``verdict`` when given."""
    return " ".join(filter(None, [f"Check: {', '.join(parts)}.", verdict]))


# ---------------------------------------------------------------------------------------------
# LLM-backed agents
# ---------------------------------------------------------------------------------------------

GENERATE_PROMPT = ("Solve the following math problem step by step. Write one short step per line and put the "
                   "final answer within \\boxed{{}}.\nProblem: {question}\n")
REFINE_PROMPT = ("Solve the following math problem step by step. Write one short step per line and put the final "
                 "answer within \\boxed{{}}.\nProblem: {question}\nA first attempt began:\n{kept}\n"
                 "A reviewer found an error: {reflection}\nContinue from the wrong step, writing the corrected "
                 "step first and then the rest of the solution, one step per line.\n")
CRITIC_PROMPT = ("Here is a math problem and a numbered attempted solution.\nProblem: {question}\n{numbered}\n"
                 "Find the first incorrect step. Reply in one or two sentences starting with "
                 "'Step N is wrong' and say why, or reply 'All steps are correct.'\n")
VERIFY_PROMPT = ("Here is a math problem and a solution.\nProblem: {question}\n{numbered}\n"
                 "Check the final answer in one or two short sentences.\n")


def clean_text(text: str, keep_boxes: bool = True) -> str:
    """Model text made safe for one COAT step: no special tokens (nor boxes unless kept), one line."""
    text = _SPECIAL.sub("", text)
    if not keep_boxes:
        text = _BOX.sub("", text)
    return " ".join(text.split())


def step_texts(text: str) -> list[str]:
    """Model output -> step texts (one per action token when it used them, else one per non-empty line)."""
    pieces = _ACTION.split(text) if _ACTION.search(text) else text.splitlines()
    return [s for s in (clean_text(p) for p in pieces) if s]


def numbered(steps: list[str]) -> str:
    return "\n".join(f"Step {i + 1}: {s}" for i, s in enumerate(steps))


class LLMGenerator(Generator):
    """Generator served by a text backend (transformers, vLLM or an OpenAI-compatible endpoint)."""

    def __init__(self, backend: Any, max_new_tokens: int = 512, temperature: float = 0.7):
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    def generate(self, requests: list[Request]) -> list[Attempt]:
        prompts = []
        for r in requests:
            if r.previous is None:
                prompts.append(GENERATE_PROMPT.format(question=r.problem.question))
            else:
                kept = numbered(r.previous.steps[: r.critique.wrong_step]) or "(nothing yet)"
                prompts.append(REFINE_PROMPT.format(question=r.problem.question, kept=kept,
                                                    reflection=r.critique.reflection))
        replies = self.backend.complete(prompts, self.max_new_tokens, self.temperature, [r.seed for r in requests])
        attempts = []
        for reply in replies:
            tokens = Counter({self.backend.name: reply.prompt_tokens + reply.completion_tokens})
            if reply.error is not None:
                attempts.append(Attempt([], None, error=reply.error, tokens=tokens))
                continue
            steps = step_texts(reply.text)
            attempts.append(Attempt(steps, last_boxed("\n".join(steps)), tokens=tokens))
        return attempts


class LLMCritic(Critic):
    """Critic served by a text backend; its reply is parsed with one regex, never evaluated."""

    def __init__(self, backend: Any, max_new_tokens: int = 128, temperature: float = 0.0):
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    def _ask(self, template: str, problems: list[Problem], attempts: list[Attempt]) -> list[Any]:
        prompts = [template.format(question=p.question, numbered=numbered(a.steps)) for p, a in zip(problems, attempts)]
        return self.backend.complete(prompts, self.max_new_tokens, self.temperature, [0] * len(prompts))

    def critique(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        out = []
        for reply, attempt in zip(self._ask(CRITIC_PROMPT, problems, attempts), attempts):
            tokens = Counter({self.backend.name: reply.prompt_tokens + reply.completion_tokens})
            if reply.error is not None:
                out.append(Critique(None, "", error=reply.error, tokens=tokens))
                continue
            text = clean_text(reply.text, keep_boxes=False)
            match = _STEP_REF.search(text)
            index = int(match.group(1)) - 1 if match else None
            if index is not None and not 0 <= index < len(attempt.steps):
                index = None
            out.append(Critique(index, f"Wait, {text[0].lower()}{text[1:]}" if text else "", tokens=tokens))
        return out

    def verification(self, problems: list[Problem], attempts: list[Attempt]) -> list[Critique]:
        out = []
        for reply in self._ask(VERIFY_PROMPT, problems, attempts):
            tokens = Counter({self.backend.name: reply.prompt_tokens + reply.completion_tokens})
            text = "" if reply.error is not None else clean_text(reply.text, keep_boxes=False)
            out.append(Critique(None, text, error=reply.error, tokens=tokens))
        return out


# ---------------------------------------------------------------------------------------------
# Reward role
# ---------------------------------------------------------------------------------------------

class OutcomeRewardModel:
    """A transformers sequence-classification model scoring ``question + solution`` (higher = better)."""

    def __init__(self, model: Any, tokenizer: Any = None, max_length: int = 1024, batch_size: int = 16):
        if isinstance(model, str):
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForSequenceClassification.from_pretrained(model)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size

    def score(self, questions: list[str], solutions: list[str]) -> list[float]:
        """One score per (question, solution): the last logit of the classifier."""
        import torch

        scores: list[float] = []
        for start in range(0, len(questions), self.batch_size):
            batch = self.tokenizer(questions[start: start + self.batch_size], solutions[start: start + self.batch_size],
                                   return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
            with torch.no_grad():
                logits = self.model(**batch).logits                    # (B, num_labels)
            scores.extend(logits[:, -1].float().tolist())
        return scores


class Reward:
    """Correctness via the sympy verifier pool; optional ORM ranking of candidates."""

    def __init__(self, verifier: Any, orm: OutcomeRewardModel | None = None):
        self.verifier = verifier
        self.orm = orm

    def check(self, texts: list[str], golds: list[Any]) -> list[Any]:
        """One ``Verdict`` per (completion text, gold)."""
        return self.verifier.verify_batch(list(zip(texts, golds))) if texts else []

    def rank(self, problem: Problem, candidates: list[Attempt]) -> list[int]:
        """Candidate indices, best first (ORM score, else the given order)."""
        if self.orm is None or len(candidates) < 2:
            return list(range(len(candidates)))
        scores = self.orm.score([problem.question] * len(candidates), [c.text for c in candidates])
        return sorted(range(len(candidates)), key=lambda i: -scores[i])
