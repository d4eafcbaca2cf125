"""Pretraining from scratch: a causal LM on the procedural corpus (worked solutions and drills).

Run it with::

    satori pretrain configs/pretrain_tiny.yaml

The run folder gets ``corpus.jsonl`` (the documents, written once and reused on resume), the
same checkpoints, metrics, ``loss.png`` and ``model/`` as ``satori sft``, and ``model/`` is a base
model that ``satori sft`` format-tunes (``model.source`` pointing at it). The embedded default
base shipped in ``satori/assets/tiny_base`` was made by this command (see ``docs/tiny_base.md``).

The loop is the SFT loop; what differs is the data: plain documents, the loss on every token
(there is no prompt), validation on held-out documents, no generation check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from satori.config import require
from satori.io import atomic_write_jsonl, read_jsonl
from satori.run_config import TrainingRunConfig
from satori.tracking import TrackingConfig
from data_synthesis.corpus import CorpusConfig, build_corpus
from train.precision import check_learning_rate
from train.sft.config import OptimConfig, SFTConfig, SFTEvalConfig, SFTModelConfig, TrainConfig
from train.sft.data import Demo, Encoded
from train.sft.trainer import SFTTrainer

CORPUS_FILE = "corpus.jsonl"


@dataclass
class PretrainDataConfig:
    """How documents become training rows (``val_size``: held-out documents, a fraction or a count)."""

    max_length: int = 384
    packing: bool = True
    val_size: float = 200

    def validate(self) -> None:
        require(self.max_length >= 16, "data.max_length", f"must be >= 16, got {self.max_length}")
        require(self.val_size >= 0, "data.val_size", "must be >= 0 (a fraction < 1, or a count of documents)")


@dataclass
class PretrainConfig(TrainingRunConfig):
    """``corpus`` says what the documents hold; the run-level keys and the other sections mean what they
    mean for ``satori sft`` (``seed`` also orders the corpus)."""

    run_dir: str = "runs/pretrain"
    checkpoint_every: int = 100
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: SFTModelConfig = field(default_factory=SFTModelConfig)
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: SFTEvalConfig = field(default_factory=lambda: SFTEvalConfig(num_generations=0))
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    RENAMED_KEYS: ClassVar[dict[str, str]] = {**SFTConfig.RENAMED_KEYS, "corpus.seed": "seed"}

    def validate(self) -> None:
        check_learning_rate(self.model.precision, self.optim.lr, "optim.lr")
        require(self.model.source == "tiny", "model.source",
                "pretraining starts from scratch: use model.source=tiny (format-tune other models with satori sft)")
        require(self.eval.num_generations == 0, "eval.num_generations",
                "pretraining has no prompts to generate from: set it to 0 (validation loss is still measured)")
        self.model.check_length(self.data.max_length)


def corpus_documents(config: PretrainConfig) -> list[dict[str, Any]]:
    """The run's corpus: read from ``run_dir/corpus.jsonl``, or built and written there first."""
    path = Path(config.run_dir) / CORPUS_FILE
    if not path.is_file():
        atomic_write_jsonl(path, build_corpus(config.corpus, config.seed))
    return [row for _, row in read_jsonl(path)]


class PretrainTrainer(SFTTrainer):
    """The SFT loop over plain documents with the loss on every token."""

    stage = "pretrain"

    def load_documents(self) -> tuple[list[Demo], list[Demo]]:
        docs = [Demo(id=f"doc-{i}", question="", gold=None, response=row["text"])
                for i, row in enumerate(corpus_documents(self.config))]
        size = self.config.data.val_size
        held = int(size) if size >= 1 else round(size * len(docs))
        return docs[held:], docs[:held]

    def check_tokenizer(self) -> None:
        """A base model has no prompt template yet."""

    def encode(self, demos: list[Demo]) -> tuple[list[Encoded], dict[str, int]]:
        """Each document as ``[bos] + text + [eos]``, all of it in the loss; longer ones are cut."""
        cut = self.config.data.max_length
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        encoded = [Encoded([bos], (self.tokenizer.encode(d.response, add_special_tokens=False) + [eos])[: cut - 1])
                   for d in demos]
        return encoded, {"examples": len(encoded), "dropped": 0,
                         "truncated": sum(len(e) == cut for e in encoded)}


def run_pretrain(config: PretrainConfig, progress: bool = True) -> dict[str, float]:
    """Build (or reuse) the corpus and pretrain; returns the final validation metrics."""
    return PretrainTrainer(config, progress=progress).train()
