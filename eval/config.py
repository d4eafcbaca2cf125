"""`satori eval` configuration: which checkpoints, which benchmarks, how to sample and grade.

Loaded with ``satori.config.load_config(EvalConfig, path, overrides, section="eval")``, so a
pipeline YAML's ``eval:`` section works unchanged. ``run_dir`` receives the report (a rerun resumes
there) and ``seed`` seeds sampling and the procedural benchmarks (see :mod:`satori.run_config`).
Example (``configs/eval_math.yaml``)::

    models: [{name: sft, path: runs/sft/final}]
    benchmarks: [gsm8k, math500, aime24, amc23, olympiadbench]
    sampling: {temperature: 0.0, max_new_tokens: 4096}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar, Literal

from satori.config import require
from satori.engines.base import Decoding, SamplingParams
from satori.problems import ColumnMap
from satori.prompts import check_template_key
from satori.run_config import RunConfig

from eval.benchmarks import is_known
from eval.protocol import PROTOCOLS


@dataclass
class ModelSpec:
    """One checkpoint: a folder, hub name or ``.gguf`` file; ``name`` labels its column."""

    path: str = ""
    name: str = ""
    gguf_file: str | None = None
    template: str | None = None

    def validate(self) -> None:
        require(bool(self.path), "models[].path", "give the checkpoint folder, hub name or .gguf file")
        if self.template is not None:
            check_template_key(self.template, "models[].template")

    @property
    def label(self) -> str:
        return self.name or self.path.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class CustomBenchmark:
    """A benchmark not in the registry: a file (JSONL/parquet/...) or hub name plus its columns."""

    path: str = ""
    split: str = "test"
    subset: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)

    def validate(self) -> None:
        require(bool(self.path), "custom.<name>.path", "give the benchmark's file or hub dataset name")


@dataclass
class SamplingConfig(Decoding):
    """The engine's decoding settings with the paper's defaults: greedy, one sample, 4096 new tokens."""

    max_new_tokens: int = 4096
    temperature: float = 0.0

    def params(self, seed: int) -> SamplingParams:
        """The engine's sampling parameters (``seed``: the run's)."""
        return SamplingParams(**asdict(self), seed=seed, logprobs=False)

    def validate(self) -> None:
        try:
            self.params(seed=0).validate()
        except ValueError as exc:
            require(False, "sampling", str(exc))


@dataclass
class VLLMSettings:
    """vLLM engine settings (CPU defaults: 1 GiB KV cache, eager mode, float32)."""

    kv_cache_gib: float | None = 1.0
    gpu_memory_utilization: float | None = None     # used instead of kv_cache_gib when that is null
    max_model_len: int | None = None                # default: longest prompt + sampling.max_new_tokens
    dtype: str = "float32"
    enforce_eager: bool = True


@dataclass
class EvalConfig(RunConfig):
    run_dir: str = "runs/eval"
    models: list[ModelSpec] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=lambda: ["gsm8k", "math500"])
    data_dir: str | None = None                            # folder with the usual local files
    files: dict[str, str] = field(default_factory=dict)    # benchmark -> local file or hub name
    custom: dict[str, CustomBenchmark] = field(default_factory=dict)
    limit: int | None = None                               # first N problems of each benchmark
    engine: Literal["hf", "vllm"] = "hf"
    template: str = "satori"                               # satori | chat | auto | "...{question}..."
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    ks: list[int] = field(default_factory=lambda: [1])     # pass@k and maj@k reported for these k <= n
    batch_size: int = 16                                   # problems per generate call (and per resume chunk)
    verifier_workers: int = 2
    verify_timeout: float = 5.0                            # seconds per answer check
    device: str = "cpu"
    vllm: VLLMSettings = field(default_factory=VLLMSettings)
    progress: bool = True
    protocol: str | None = None     # e.g. satori-paper: fixes template, sampling and extraction (eval.protocol)
    rerank: str | None = None                              # an outcome reward model folder (satori rm): ORM best-of-n
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"verifier_timeout": "verify_timeout", "sampling.seed": "seed"}

    def validate(self) -> None:
        require(bool(self.models), "models", "name at least one checkpoint (--model NAME=PATH)")
        labels = [m.label for m in self.models]
        require(len(set(labels)) == len(labels), "models",
                f"two checkpoints share the label {labels}; give each a distinct name")
        require(bool(self.benchmarks), "benchmarks", "name at least one benchmark (e.g. gsm8k,math500)")
        for name in self.benchmarks:
            require(is_known(name) or name in self.custom or name in self.files, "benchmarks",
                    f"unknown benchmark {name!r}; use a built-in name, procedural:FAMILY, or describe it "
                    f"under custom.{name}")
        for name in self.files:
            require(name in self.benchmarks, f"files.{name}", f"{name!r} is not in benchmarks")
        require(self.limit is None or self.limit >= 1, "limit", "must be >= 1 (or null for all)")
        check_template_key(self.template, "template")
        require(all(1 <= k <= self.sampling.n for k in self.ks), "ks",
                f"every k must be between 1 and sampling.n = {self.sampling.n}")
        require(self.batch_size >= 1, "batch_size", "must be >= 1")
        require(self.rerank is None or self.sampling.n >= 2, "rerank",
                "reranking picks among a problem's samples: set sampling.n >= 2 (and a temperature > 0)")
        require(self.verifier_workers >= 1, "verifier_workers", "must be >= 1")
        require(self.verify_timeout > 0, "verify_timeout", "must be > 0 seconds")
        if self.protocol is not None:
            self.apply_protocol()

    def apply_protocol(self) -> None:
        """Set the template and sampling ``protocol`` fixes; refuse a setting of them that differs from it."""
        require(self.protocol in PROTOCOLS, "protocol", f"unknown protocol {self.protocol!r}; known: {sorted(PROTOCOLS)}")
        fixed = PROTOCOLS[self.protocol]
        wanted = SamplingConfig(max_new_tokens=fixed.max_new_tokens, temperature=fixed.temperature, n=fixed.n)
        for key in ("max_new_tokens", "temperature", "n", "top_p", "top_k"):
            require(getattr(self.sampling, key) == getattr(wanted, key), f"sampling.{key}",
                    f"protocol {self.protocol} fixes it to {getattr(wanted, key)!r}; unset it or drop the protocol")
        require(self.template in (EvalConfig.template, fixed.template), "template",
                f"protocol {self.protocol} fixes the prompt template to {fixed.template!r}; unset it or drop the protocol")
        require(all(m.template is None for m in self.models), "models[].template",
                f"protocol {self.protocol} fixes the prompt template; remove the per-model template")
        self.template = fixed.template

    def sampling_params(self) -> SamplingParams:
        """The engine's sampling parameters: ``sampling`` with the run's ``seed``."""
        return self.sampling.params(self.seed)
