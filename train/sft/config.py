"""Configuration of ``satori sft`` (format tuning on COAT demonstrations).

Loaded with ``load_config(SFTConfig, path, overrides, section="sft")``, so a stage YAML or a
pipeline YAML's ``sft:`` section both work. Every check says which key to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from satori.config import require
from satori.prompts import check_template_key
from satori.run_config import TrainingRunConfig
from satori.tracking import TrackingConfig
from train.precision import Precision, check_learning_rate


@dataclass
class TinyModelConfig:
    """The embedded default: a BPE tokenizer trained on the demonstrations and a small decoder."""

    vocab_size: int = 1024
    arch: Literal["qwen2", "llama"] = "qwen2"
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int | None = None
    max_positions: int = 2048

    def validate(self) -> None:
        require(self.vocab_size >= 300, "model.tiny.vocab_size", "must be >= 300 (bytes + merges + specials)")
        require(self.hidden_size % self.num_heads == 0, "model.tiny.num_heads",
                f"must divide hidden_size {self.hidden_size}")
        require(self.hidden_size // self.num_heads >= 32, "model.tiny.num_heads",
                "head size (hidden_size / num_heads) must be >= 32 so vLLM's CPU build can serve the model")


@dataclass
class SFTModelConfig:
    """``source``: ``tiny``, a local HF folder, a hub name, a ``.gguf`` path, or ``smollm2-135m-gguf``.
    ``precision``: see :mod:`train.precision`."""

    source: str = "tiny"
    gguf_file: str | None = None
    trust_remote_code: bool = False
    precision: Precision = "fp32"
    gradient_checkpointing: bool = False
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)

    def check_length(self, max_length: int) -> None:
        """Refuse a ``data.max_length`` longer than a tiny model's positions."""
        if self.source == "tiny":
            require(max_length <= self.tiny.max_positions, "data.max_length",
                    f"exceeds model.tiny.max_positions ({self.tiny.max_positions}); raise that or lower this")

    def validate(self) -> None:
        require(bool(self.source.strip()), "model.source", "must name a model: tiny, a folder, a hub name or a .gguf")


FORMAT_FIELDS = {  # format -> (question, response, gold, id) columns
    "satori": ("problem", "coat", "gold", "id"),        # ``satori synth``'s demos.jsonl
    "satori-ft": ("query", "response", "answer", "id"),  # the official format-tuning data (satori.formats)
}


@dataclass
class SFTDataConfig:
    """Demonstrations: a JSONL from ``satori synth``, any file ``datasets`` reads (json/parquet/csv), or a
    hub dataset name (its ``split``). ``format`` names the default columns (``FORMAT_FIELDS``); a
    ``*_field`` key set here renames one."""

    path: str = ""
    format: Literal["satori", "satori-ft"] = "satori"
    split: str = "train"
    question_field: str | None = None
    response_field: str | None = None
    gold_field: str | None = None
    id_field: str | None = None
    template: str = "satori"
    max_length: int = 512
    overlength: Literal["drop", "truncate_response"] = "drop"
    packing: bool = False
    val_size: float = 0.05
    limit: int | None = None

    def validate(self) -> None:
        require(bool(self.path), "data.path", "set the demonstrations file (e.g. data.path=runs/synth/demos.jsonl)")
        check_template_key(self.template, "data.template")
        require(self.max_length >= 16, "data.max_length", f"must be >= 16, got {self.max_length}")
        require(self.val_size >= 0, "data.val_size", "must be >= 0 (a fraction < 1, or a count of problems)")
        require(self.val_size < 1 or float(self.val_size).is_integer(), "data.val_size",
                "a value >= 1 is a count of problems and must be a whole number")
        require(self.limit is None or self.limit > 0, "data.limit", "must be positive or null")

    def fields(self) -> tuple[str, str, str, str]:
        """The question, response, gold and id columns: the ``*_field`` keys, else the format's."""
        defaults = FORMAT_FIELDS[self.format]
        chosen = (self.question_field, self.response_field, self.gold_field, self.id_field)
        return tuple(c if c is not None else d for c, d in zip(chosen, defaults))


@dataclass
class OptimConfig:
    """AdamW with warm-up then a cosine or linear decay to ``min_lr_ratio * lr``."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    max_grad_norm: float = 1.0

    def validate(self) -> None:
        require(self.lr > 0, "optim.lr", f"must be > 0, got {self.lr}")
        require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "optim.betas",
                "must be two numbers in [0, 1), e.g. [0.9, 0.95]")
        require(self.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0")
        require(0 <= self.min_lr_ratio <= 1, "optim.min_lr_ratio", "must be in [0, 1]")
        require(self.max_grad_norm >= 0, "optim.max_grad_norm", "must be >= 0 (0 turns clipping off)")


@dataclass
class TrainConfig:
    """Batching and budget: an optimizer step sees ``batch_size * grad_accum`` sequences; the run lasts
    ``epochs`` passes over the demonstrations unless the top-level ``max_steps`` is set."""

    batch_size: int = 16
    grad_accum: int = 1
    epochs: float = 1.0
    RENAMED_KEYS: ClassVar[dict[str, str]] = {
        "precision": "use model.precision: fp32, bf16-mixed (fp32 master weights, bf16 compute: what "
                     "precision: bfloat16 was) or bf16-pure"}

    def validate(self) -> None:
        require(self.batch_size >= 1, "train.batch_size", "must be >= 1")
        require(self.grad_accum >= 1, "train.grad_accum", "must be >= 1")
        require(self.epochs > 0, "train.epochs", "must be > 0")


@dataclass
class SFTEvalConfig:
    """Validation loss and a greedy generation check on held-out problems (every top-level ``eval_every``
    steps and after the last)."""

    batch_size: int = 32
    num_generations: int = 64
    max_new_tokens: int = 256
    generation_batch_size: int = 64

    def validate(self) -> None:
        require(self.batch_size >= 1, "eval.batch_size", "must be >= 1")
        require(self.num_generations >= 0, "eval.num_generations", "must be >= 0 (0 turns generation off)")
        require(self.max_new_tokens >= 1, "eval.max_new_tokens", "must be >= 1")
        require(self.generation_batch_size >= 1, "eval.generation_batch_size", "must be >= 1")


@dataclass
class SFTLoopConfig(TrainingRunConfig):
    """The sections the SFT loop reads, shared by ``satori sft`` and ``satori pretrain``; each stage
    adds its own ``data`` section (with a ``max_length``)."""

    checkpoint_every: int = 100
    model: SFTModelConfig = field(default_factory=SFTModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: SFTEvalConfig = field(default_factory=SFTEvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"model.tiny.seed": "seed"}

    def validate(self) -> None:
        check_learning_rate(self.model.precision, self.optim.lr, "optim.lr")
        self.model.check_length(self.data.max_length)  # the stage's own data section


@dataclass
class SFTConfig(SFTLoopConfig):
    """``run_dir`` receives checkpoints, ``model/`` (the final HF folder), metrics and plots.

    The run-level keys (``run_dir``, ``seed``, ``max_steps``, ``eval_every``, ``checkpoint_every``,
    ``keep_checkpoints``, ``resume``, ``threads``) are :class:`satori.run_config.TrainingRunConfig`'s;
    ``max_steps: null`` runs ``train.epochs``. ``resume: true`` continues from the newest checkpoint in
    ``run_dir`` when there is one; with ``resume: false`` a run folder that already holds checkpoints is refused.
    """

    run_dir: str = "runs/sft"
    data: SFTDataConfig = field(default_factory=SFTDataConfig)

    def validate(self) -> None:
        require(self.model.source == "tiny" or self.model.tiny == TinyModelConfig(), "model.tiny",
                f"only applies when model.source is 'tiny' (it is {self.model.source!r}); remove model.tiny")
