"""Configuration of ``satori synth`` (the ``synth:`` section of a pipeline YAML, or a file of its own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from data_synthesis.demos import KINDS
from data_synthesis.families import DIFFICULTIES, FAMILIES, MISTAKE_KINDS, SPLITS
from satori.config import require
from satori.prompts import check_template_key
from satori.run_config import RunConfig


@dataclass
class ProceduralConfig:
    """Built-in problem families: how many problems, which families (by weight) and difficulties."""

    n: int = 1000
    families: dict[str, float] = field(default_factory=lambda: {"arith": 1.0, "fractions": 1.0, "linear": 1.0})
    difficulties: list[int] = field(default_factory=lambda: [1, 2])
    split: str = "train"

    def validate(self) -> None:
        require(self.n >= 1, "source.procedural.n", "must be at least 1")
        unknown = sorted(set(self.families) - set(FAMILIES))
        require(not unknown, "source.procedural.families", f"unknown families {unknown}; known: {sorted(FAMILIES)}")
        require(any(w > 0 for w in self.families.values()) and all(w >= 0 for w in self.families.values()),
                "source.procedural.families", "weights must be >= 0 with at least one > 0")
        require(bool(self.difficulties) and set(self.difficulties) <= set(DIFFICULTIES),
                "source.procedural.difficulties", f"choose from {list(DIFFICULTIES)}")
        require(self.split in SPLITS, "source.procedural.split", f"choose one of {list(SPLITS)}")


@dataclass
class FileConfig:
    """A problem file (jsonl/json/parquet/csv) or hub dataset, with its column names (null = detect).

    ``answer_from_boxed``: the answer column holds a worked solution (MATH style); the gold is its
    last ``\\boxed{}`` and the whole text becomes the reference solution.
    """

    path: str = ""
    split: str = "train"
    subset: str | None = None
    limit: int | None = None
    question: str | None = None
    answer: str | None = None
    solution: str | None = None
    id: str | None = None
    meta: list[str] = field(default_factory=list)
    answer_from_boxed: bool = False


@dataclass
class SourceConfig:
    kind: Literal["procedural", "file"] = "procedural"
    procedural: ProceduralConfig = field(default_factory=ProceduralConfig)
    file: FileConfig = field(default_factory=FileConfig)
    on_bad: Literal["skip", "error"] = "skip"

    def validate(self) -> None:
        if self.kind == "file":
            require(bool(self.file.path), "source.file.path", "set the problem file or hub dataset name")


@dataclass
class BackendConfig:
    """One model server. ``hf``/``vllm``: ``model`` is a checkpoint folder; ``openai``: a model name."""

    kind: Literal["hf", "vllm", "openai"] = "hf"
    model: str = ""
    chat: bool = False
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None
    max_concurrency: int = 4
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 1.0

    def check(self, key: str) -> None:
        """Validate, naming keys under ``key`` (e.g. ``agents.backends.teacher``)."""
        require(bool(self.model), f"{key}.model", "set the checkpoint folder (hf, vllm) or model name (openai)")
        require(self.max_concurrency >= 1, f"{key}.max_concurrency", "must be at least 1")
        require(self.timeout > 0, f"{key}.timeout", "must be > 0 seconds")
        require(self.max_retries >= 0, f"{key}.max_retries", "must be >= 0")
        require(self.backoff >= 0, f"{key}.backoff", "must be >= 0 seconds")


@dataclass
class AgentsConfig:
    """Who plays each role: ``scripted`` or the name of a backend in ``backends``."""

    generator: str = "scripted"
    critic: str = "scripted"
    backends: dict[str, BackendConfig] = field(default_factory=dict)
    attempts_per_problem: int = 1
    max_new_tokens: int = 512
    temperature: float = 0.7
    mistake_rate: float = 0.5
    mistake_kinds: list[str] = field(default_factory=lambda: list(MISTAKE_KINDS))
    orm: str | None = None
    verifier_workers: int = 2
    verify_timeout: float = 5.0     # seconds per answer check
    verifier_warm_up: bool = True

    def validate(self) -> None:
        for name, backend in self.backends.items():
            backend.check(f"agents.backends.{name}")
        for role in ("generator", "critic"):
            name = getattr(self, role)
            require(name == "scripted" or name in self.backends, f"agents.{role}",
                    f"{name!r} is neither 'scripted' nor a backend in agents.backends ({sorted(self.backends)})")
        require(self.attempts_per_problem >= 1, "agents.attempts_per_problem", "must be at least 1")
        require(0 <= self.mistake_rate <= 1, "agents.mistake_rate", "must be in [0, 1]")
        unknown = sorted(set(self.mistake_kinds) - set(MISTAKE_KINDS))
        require(bool(self.mistake_kinds) and not unknown, "agents.mistake_kinds",
                f"choose from {list(MISTAKE_KINDS)} (unknown: {unknown})")
        require(self.verifier_workers >= 1, "agents.verifier_workers", "must be at least 1")
        require(self.verify_timeout > 0, "agents.verify_timeout", "must be > 0 seconds")


@dataclass
class SynthConfig(RunConfig):
    """``satori synth``: where problems come from, who solves and critiques them, what to write.

    ``run_dir`` receives the demonstrations (a rerun resumes there); ``seed`` fixes the problems and
    the roles' sampling (see :class:`satori.run_config.RunConfig`).
    """

    run_dir: str = "runs/synth"
    source: SourceConfig = field(default_factory=SourceConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    kinds: dict[str, float] = field(default_factory=lambda: {"correct_verified": 0.4, "error_reflect_explore": 0.4,
                                                             "multi_round": 0.2})
    max_rounds: int = 3
    prompt_template: str = "satori"
    tokenizer: str | None = None
    chunk_size: int = 256
    progress: bool = True
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"agents.verifier_timeout": "agents.verify_timeout"}

    def validate(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        require(not unknown, "kinds", f"unknown kinds {unknown}; choose from {list(KINDS)}")
        require(all(w >= 0 for w in self.kinds.values()) and sum(self.kinds.values()) > 0, "kinds",
                "proportions must be >= 0 with a positive sum")
        require(self.max_rounds >= 1, "max_rounds", "must be at least 1")
        require(self.kinds.get("multi_round", 0) == 0 or self.max_rounds >= 2, "max_rounds",
                "multi_round demonstrations need max_rounds >= 2; raise it or set kinds.multi_round to 0")
        check_template_key(self.prompt_template, "prompt_template")
        require(self.prompt_template not in ("chat", "auto") or self.tokenizer is not None, "tokenizer",
                f"prompt_template {self.prompt_template!r} renders through a tokenizer's chat template; "
                "set tokenizer to its folder or use prompt_template=satori")
        require(self.chunk_size >= 1, "chunk_size", "must be at least 1")
