"""The synthesis run: problems -> attempts -> critiques -> refinements -> verified COAT demos.

Per chunk of problems, each role is called once per stage with the whole chunk (so LLM
backends batch). Every random choice about a problem derives from ``(seed, problem id)``,
so with scripted agents the result does not depend on chunking, order or interruptions.

Outputs in ``run_dir``:
- ``progress.jsonl``: one ledger row per finished problem (demo or rejection reason), appended
  durably; a rerun skips the problems it holds.
- ``demos.jsonl``: the accepted demonstrations sorted by id, rewritten atomically at the end.
- ``stats.json``: counts per kind, per rejection reason, tokens per backend; ``failures.jsonl``:
  every failed backend request and every bad input row.

Departures from the Satori paper's synthesis: one demonstration per problem; the kind each
problem aims for is planned up front so the kinds come out in the configured proportions; the
reflection follows a complete wrong attempt (its boxed answer included) rather than an
arbitrary cut; procedural problems can be solved and critiqued by scripted agents, no model.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_synthesis.agents import Attempt, Critic, Critique, Generator, Request, Reward
from data_synthesis.config import SynthConfig
from data_synthesis.demos import KINDS, kind_of, render_demo
from satori.coat import find_problems
from satori.io import JsonlAppender, atomic_write_json, atomic_write_jsonl, read_jsonl
from satori.problems import Problem
from satori.prompts import build_prompt


def derive_seed(seed: int, *parts: Any) -> int:
    """A 63-bit seed from ``seed`` and ``parts`` (stable across runs and Python versions)."""
    return int.from_bytes(hashlib.sha256(repr((seed, *parts)).encode()).digest()[:8], "big") >> 1


def plan_kinds(problems: list[Problem], seed: int, proportions: dict[str, float],
               max_rounds: int) -> dict[str, tuple[str, int]]:
    """Problem id -> (kind to aim for, critique rounds), the kinds in exact proportions.

    Problems are ordered by a hash of ``(seed, id)`` and cut into consecutive blocks sized by
    the proportions (largest remainder), so the plan depends only on the problem set and seed.
    """
    kinds = [k for k in KINDS if proportions.get(k, 0) > 0]
    total = sum(proportions[k] for k in kinds)
    quotas = [len(problems) * proportions[k] / total for k in kinds]
    counts = [int(q) for q in quotas]
    for i in sorted(range(len(kinds)), key=lambda i: counts[i] - quotas[i])[: len(problems) - sum(counts)]:
        counts[i] += 1
    order = sorted(problems, key=lambda p: derive_seed(seed, p.id, "plan"))
    plans, start = {}, 0
    for kind, count in zip(kinds, counts):
        for problem in order[start: start + count]:
            rng = random.Random(derive_seed(seed, problem.id, "rounds"))
            rounds = {"correct_verified": 0, "error_reflect_explore": 1}.get(kind) or rng.randint(2, max_rounds)
            plans[problem.id] = (kind, rounds)
        start += count
    return plans


@dataclass
class Work:
    """One problem in flight through a chunk."""

    problem: Problem
    kind: str
    rounds: int
    chain: list[Attempt] = field(default_factory=list)
    critiques: list[Critique] = field(default_factory=list)
    verification: Critique | None = None
    rejection: str | None = None
    tokens: Counter = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejection = self.rejection or reason

    def charge(self, stage: str, item: Attempt | Critique) -> bool:
        """Add ``item``'s token use and record its failed request, if any. True when it is usable."""
        self.tokens.update(item.tokens)
        if item.error is None:
            return True
        self.failures.append({"id": self.problem.id, "stage": stage, "error": item.error})
        return False


class Synthesizer:
    """Runs the roles over chunks of problems and turns each problem into a ledger row."""

    def __init__(self, config: SynthConfig, generator: Generator, critic: Critic, reward: Reward,
                 prompt_tokenizer: Any = None):
        self.config = config
        self.plans: dict[str, tuple[str, int]] = {}
        self.generator = generator
        self.critic = critic
        self.reward = reward
        self.prompt_tokenizer = prompt_tokenizer

    def plan(self, problems: list[Problem]) -> None:
        """Fix the kind each problem aims for (call once with the whole problem set)."""
        self.plans = plan_kinds(problems, self.config.seed, self.config.kinds, self.config.max_rounds)

    def run_chunk(self, problems: list[Problem]) -> list[dict[str, Any]]:
        cfg = self.config
        works = [Work(p, *self.plans[p.id]) for p in problems]
        self._first_attempts(works)
        for round_index in range(1, cfg.max_rounds + 1):
            self._refine(works, round_index)
        for w in works:
            if w.chain and not w.rejection and not w.chain[-1].correct:
                w.reject("unresolved_after_max_rounds")
        self._verify_correct(works)
        return self._finish(works)

    def _first_attempts(self, works: list[Work]) -> None:
        n = self.config.agents.attempts_per_problem
        requests = [Request(w.problem, derive_seed(self.config.seed, w.problem.id, "attempt", j),
                            want_mistake=w.kind != "correct_verified") for w in works for j in range(n)]
        attempts = self.generator.generate(requests)
        self._judge([w.problem for w in works for _ in range(n)], attempts)
        for i, w in enumerate(works):
            usable = [a for a in attempts[i * n: (i + 1) * n] if w.charge("generate", a) and a.steps]
            wanted = w.kind == "correct_verified"
            matching = [a for a in usable if bool(a.correct) == wanted]
            if not matching:
                w.reject("agent_error" if not usable and w.failures else
                         "no_correct_attempt" if wanted else "no_incorrect_attempt")
                continue
            w.chain = [matching[self.reward.rank(w.problem, matching)[0]] if wanted else matching[0]]

    def _refine(self, works: list[Work], round_index: int) -> None:
        active = [w for w in works if w.chain and not w.rejection and not w.chain[-1].correct]
        if not active:
            return
        critiques = self.critic.critique([w.problem for w in active], [w.chain[-1] for w in active])
        requests, targets = [], []
        for w, critique in zip(active, critiques):
            if not w.charge("critique", critique):
                w.reject("agent_error")
                continue
            if critique.wrong_step is None or not critique.reflection:
                w.reject("critic_found_no_error")
                continue
            w.critiques.append(critique)
            want = w.kind == "multi_round" and round_index < w.rounds
            requests.append(Request(w.problem, derive_seed(self.config.seed, w.problem.id, "refine", round_index),
                                    previous=w.chain[-1], critique=critique, want_mistake=want, history=list(w.chain)))
            targets.append(w)
        refinements = self.generator.generate(requests)
        self._judge([w.problem for w in targets], refinements)
        for w, attempt in zip(targets, refinements):
            if not w.charge("refine", attempt):
                w.reject("agent_error")
            elif attempt.steps:
                w.chain.append(attempt)
            else:
                w.reject("empty_refinement")

    def _verify_correct(self, works: list[Work]) -> None:
        todo = [w for w in works if w.chain and not w.rejection and len(w.chain) == 1]
        checks = self.critic.verification([w.problem for w in todo], [w.chain[0] for w in todo])
        for w, check in zip(todo, checks):
            if not w.charge("verification", check):
                w.reject("agent_error")
            elif check.reflection:
                w.verification = check
            else:
                w.reject("empty_verification")

    def _finish(self, works: list[Work]) -> list[dict[str, Any]]:
        texts: dict[int, str] = {}
        for i, w in enumerate(works):
            if w.rejection:
                continue
            text = render_demo(w.chain, w.critiques, w.verification)
            if find_problems(text):
                w.reject("invalid_coat")
            else:
                texts[i] = text
        verdicts = dict(zip(texts, self.reward.check(list(texts.values()), [works[i].problem.gold for i in texts])))
        rows = []
        for i, w in enumerate(works):
            demo = None
            if i in texts:
                verdict = verdicts[i]
                if verdict.correct:
                    demo = self._demo_row(w, texts[i])
                else:
                    w.reject(f"final_{verdict.status}")
            rows.append({"id": w.problem.id, "planned_kind": w.kind, "demo": demo, "rejection": w.rejection,
                         "tokens": dict(w.tokens), "failures": w.failures})
        return rows

    def _demo_row(self, w: Work, text: str) -> dict[str, Any]:
        p = w.problem
        return {"id": p.id, "source": p.source, "problem": p.question, "gold": p.gold, "kind": kind_of(w.chain),
                "coat": text, "template": self.config.prompt_template,
                "prompt": build_prompt(p.question, self.config.prompt_template, self.prompt_tokenizer),
                "rounds": len(w.chain) - 1,
                "mistakes": [s.mistake for a in w.chain for s in a.trace or () if s.mistake]}

    def _judge(self, problems: list[Problem], attempts: list[Attempt]) -> None:
        """Set ``attempt.correct``: structured answers (scripted attempts on procedural problems)
        compare exactly with the gold; model-written ones go to the verifier in one batch."""
        loose = []
        for problem, attempt in zip(problems, attempts):
            if attempt.trace is not None:
                attempt.correct = attempt.answer == problem.gold
            elif attempt.error is None and attempt.steps:
                loose.append((problem, attempt))
        verdicts = self.reward.check([a.text for _, a in loose], [p.gold for p, _ in loose])
        for (_, attempt), verdict in zip(loose, verdicts):
            attempt.correct = verdict.correct


def run_synthesis(config: SynthConfig, problems: list[Problem], synthesizer: Synthesizer,
                  bad_rows: list[str] | None = None) -> dict[str, Any]:
    """Synthesize demos for ``problems`` resumably into ``config.run_dir``; returns the stats."""
    from tqdm import tqdm

    out = Path(config.run_dir)
    started = time.perf_counter()
    synthesizer.plan(problems)
    with JsonlAppender(out / "progress.jsonl") as ledger:
        todo = [p for p in problems if p.id not in ledger.done_keys]
        bar = tqdm(total=len(problems), initial=len(problems) - len(todo), desc="synth", unit="problem",
                   disable=not config.progress)
        for start in range(0, len(todo), config.chunk_size):
            chunk = todo[start: start + config.chunk_size]
            for row in synthesizer.run_chunk(chunk):
                ledger.write(row)
            ledger.sync()
            bar.update(len(chunk))
        bar.close()
    return finalize(config, problems, bad_rows or [], time.perf_counter() - started)


def finalize(config: SynthConfig, problems: list[Problem], bad_rows: list[str], seconds: float) -> dict[str, Any]:
    """Write ``demos.jsonl`` (sorted), ``failures.jsonl`` and ``stats.json`` from the ledger."""
    out = Path(config.run_dir)
    wanted = {p.id for p in problems}
    ledger = {row["id"]: row for _, row in read_jsonl(out / "progress.jsonl") if row["id"] in wanted}
    rows = [ledger[k] for k in sorted(ledger)]
    demos = [r["demo"] for r in rows if r["demo"] is not None]
    atomic_write_jsonl(out / "demos.jsonl", demos)
    failures = [f for r in rows for f in r["failures"]] + [{"stage": "input", "error": m} for m in bad_rows]
    atomic_write_jsonl(out / "failures.jsonl", failures)
    tokens: Counter = Counter()
    for r in rows:
        tokens.update(r["tokens"])
    stats = {
        "problems": len(rows), "demos": len(demos),
        "kinds": {k: sum(d["kind"] == k for d in demos) for k in KINDS},
        "planned_kinds": dict(Counter(r["planned_kind"] for r in rows)),
        "rejections": dict(Counter(r["rejection"] for r in rows if r["rejection"])),
        "tokens_per_backend": dict(tokens),
        "failed_requests": sum(len(r["failures"]) for r in rows),
        "bad_input_rows": len(bad_rows),
        "wall_seconds_this_run": round(seconds, 3),
    }
    atomic_write_json(out / "stats.json", stats)
    return stats
