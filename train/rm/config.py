"""Configuration of ``satori rm`` (outcome reward model training).

Loaded with ``load_config(RMConfig, path, overrides, section="rm")``: a stage YAML or a pipeline YAML's
``rm:`` section. Every check names the key to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from satori.config import require
from satori.orm import SCORES
from satori.prompts import check_template_key
from satori.run_config import TrainingRunConfig
from satori.tracking import TrackingConfig
from train.precision import Precision, check_learning_rate
from train.sft.config import OptimConfig

LOSSES = ("bt", "bce")


@dataclass
class RMDataConfig:
    """The label sets: ``policy``'s ``samples`` completions of each problem, graded (``train.rm.labels``).

    ``problems`` is a problem-set spec (``procedural:FAMILIES[:DIFFICULTIES]``, a file or a hub name);
    training labels come from its ``train`` split, the held-out ones from ``eval_split`` (of ``eval_problems``
    when set: a hub set's other split may not exist, or overlap). ``train_file`` /
    ``eval_file`` name label files to use as they are (built there when missing); by default they are
    ``RUN/labels/{train,eval}.jsonl``, built or finished from the config's problems.
    """

    policy: str = "runs/sft_tiny/model"
    problems: str = "procedural:arith,fractions,linear"
    eval_problems: str | None = None  # the held-out problem set (null: ``problems``' ``eval_split``)
    difficulty: int = 1
    train_size: int = 400
    eval_size: int = 100
    eval_split: str = "test"
    samples: int = 8
    max_new_tokens: int = 256
    temperature: float = 1.0
    sample_batch_size: int = 128
    template: str = "satori"
    max_length: int = 512            # prompt + response tokens the reward model reads (the last ones kept)
    max_pairs_per_problem: int = 16  # Bradley-Terry pairs drawn per problem (0: all correct x incorrect pairs)
    train_file: str | None = None
    eval_file: str | None = None

    def validate(self) -> None:
        require(bool(self.policy.strip()), "data.policy", "name the policy checkpoint whose samples are labelled")
        require(self.train_size >= 1, "data.train_size", "must be >= 1")
        require(self.eval_size >= 1, "data.eval_size", "must be >= 1 (pairwise accuracy needs held-out problems)")
        require(self.samples >= 2, "data.samples", "must be >= 2: pairs need a correct and an incorrect sample")
        require(self.temperature > 0, "data.temperature", "sampling k completions needs a temperature > 0")
        require(self.max_new_tokens >= 1, "data.max_new_tokens", "must be >= 1")
        require(self.sample_batch_size >= 1, "data.sample_batch_size", "must be >= 1")
        require(self.max_length >= 16, "data.max_length", "must be >= 16")
        require(self.max_pairs_per_problem >= 0, "data.max_pairs_per_problem", "must be >= 0 (0 keeps all)")
        check_template_key(self.template, "data.template")


@dataclass
class RMModelConfig:
    """``source``: the backbone (an HF causal-LM folder or hub name; null: ``data.policy``). ``score`` (see
    :mod:`satori.orm`): ``head``, a fresh one-output head on the last token (a sequence classifier), or
    ``likelihood``, ``score_scale`` times the mean log-probability of the response under the backbone itself
    (a causal LM, trained with ``train.loss: bt``). ``precision``: see :mod:`train.precision`."""

    source: str | None = None
    score: Literal["head", "likelihood"] = "head"
    score_scale: float = 10.0
    precision: Precision = "fp32"

    def validate(self) -> None:
        require(self.score in SCORES, "model.score", f"must be one of {', '.join(SCORES)}")
        require(self.score_scale > 0, "model.score_scale", "must be > 0")


@dataclass
class RMTrainConfig:
    """An optimizer step sees ``batch_size`` pairs (loss ``bt``) or samples (loss ``bce``); without a top-level
    ``max_steps`` the run lasts ``epochs`` passes."""

    loss: Literal["bt", "bce"] = "bt"
    batch_size: int = 16
    epochs: float = 1.0

    def validate(self) -> None:
        require(self.loss in LOSSES, "train.loss", f"must be one of {', '.join(LOSSES)}")
        require(self.batch_size >= 1, "train.batch_size", "must be >= 1")
        require(self.epochs > 0, "train.epochs", "must be > 0")


@dataclass
class RMEvalConfig:
    batch_size: int = 32

    def validate(self) -> None:
        require(self.batch_size >= 1, "eval.batch_size", "must be >= 1")


@dataclass
class RMConfig(TrainingRunConfig):
    """``run_dir`` receives ``labels/``, checkpoints, ``model/`` (the final reward model), metrics and a plot.

    Run-level keys are :class:`satori.run_config.TrainingRunConfig`'s; ``eval_every`` evaluates pairwise
    accuracy and AUC on the held-out labels every N steps (and after the last).
    """

    run_dir: str = "runs/rm"
    eval_every: int = 50
    checkpoint_every: int = 50
    threads: int | None = 2
    model: RMModelConfig = field(default_factory=RMModelConfig)
    data: RMDataConfig = field(default_factory=RMDataConfig)
    train: RMTrainConfig = field(default_factory=RMTrainConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4, warmup_steps=10))
    eval: RMEvalConfig = field(default_factory=RMEvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def validate(self) -> None:
        check_learning_rate(self.model.precision, self.optim.lr, "optim.lr")
        require(self.model.score == "head" or self.train.loss == "bt", "train.loss",
                "a likelihood score (model.score: likelihood) is a log-probability, not a logit: train it with "
                "train.loss=bt")

    @property
    def backbone(self) -> str:
        return self.model.source or self.data.policy
