"""`TeachConfig`: every setting of a teacher run (GRPO on the PPO engine + distillation), validated up front.

The run-level keys are :class:`satori.run_config.TrainingRunConfig`'s and the rollout, algorithm
and Ray sections are the PPO stage's own dataclasses with the teacher recipe's defaults;
:meth:`TeachConfig.rl_config` carries the whole config into the :class:`~train.rl.config.RLConfig`
the PPO engine runs (every key both declare, by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from satori.config import ConfigError, carry, require, validate_tree
from satori.prompts import check_template_key
from satori.run_config import TrainingRunConfig
from satori.tracking import TrackingConfig
from train.precision import Precision
from train.rl.config import AlgoConfig, RAEConfig, RayConfig, RLConfig, RLModelConfig, RolloutConfig

TINY = "tiny"
VARIANTS = ("coat", "plain")
DEFAULT_SYSTEM_PROMPTS = {
    "coat": ("You are a teacher. Given a problem and its solution, explain the solution to a student as a "
             "chain of action thought: steps opened by <|continue|>, <|reflect|> or <|explore|>, with the "
             "final answer in \\boxed{}."),
    "plain": ("You are a teacher. Given a problem and its solution, explain step by step how to reach the "
              "solution so a student can follow it."),
}


@dataclass
class TinyTeachConfig:
    """In-process models for ``model.teacher: tiny`` / ``model.student: tiny``: one tokenizer, two small
    decoders, each warmed up on reference explanations of training problems (teacher: explain; student:
    read an explanation, then write the solution)."""

    vocab_size: int = 512
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 1
    warmup_problems: int = 300
    teacher_steps: int = 60
    student_steps: int = 150
    batch_size: int = 16
    lr: float = 3.0e-3

    def validate(self) -> None:
        require(self.hidden_size % self.num_heads == 0 and self.hidden_size // self.num_heads >= 32,
                "model.tiny.num_heads", "hidden_size / num_heads must be a whole number >= 32 (vLLM CPU needs it)")
        require(self.vocab_size >= 300, "model.tiny.vocab_size", "must be >= 300")
        require(self.teacher_steps >= 0 and self.student_steps >= 0, "model.tiny.teacher_steps", "must be >= 0")
        require(self.warmup_problems >= 1 and self.batch_size >= 1, "model.tiny.warmup_problems", "must be >= 1")


@dataclass
class TeachModelConfig:
    """``teacher`` and ``student``: Hugging Face folders sharing one tokenizer, or ``tiny`` (built in-process)."""

    teacher: str = TINY
    student: str = TINY
    precision: Precision = "fp32"           # see train.precision
    gradient_checkpointing: bool = False
    tiny: TinyTeachConfig = field(default_factory=TinyTeachConfig)
    RENAMED_KEYS: ClassVar[dict[str, str]] = RLModelConfig.RENAMED_KEYS

    def validate(self) -> None:
        require((self.teacher == TINY) == (self.student == TINY), "model.student",
                "teacher and student must share a tokenizer: make both 'tiny' or both model folders")


@dataclass
class FormatConfig:
    """Prompt layouts.

    Teacher: ``system_prompt``, the question, then ``solution_open`` solution ``solution_close`` and
    ``explanation_open``; the teacher continues with the explanation and ``explanation_close``.
    Student: the question under ``student_template`` (a :mod:`satori.prompts` template), then
    ``reasoning_open`` explanation ``reasoning_close``, then ``solution_open`` solution.
    ``variant: coat`` asks for a COAT explanation (it must parse as COAT to be distilled).
    """

    variant: Literal["coat", "plain"] = "coat"
    system_prompt: str | None = None       # None: the variant's default (DEFAULT_SYSTEM_PROMPTS)
    solution_open: str = "<solution>"
    solution_close: str = "</solution>"
    explanation_open: str = "<explanation>"
    explanation_close: str = "</explanation>"
    student_template: str = "satori"
    reasoning_open: str = ""
    reasoning_close: str = "\n"

    def validate(self) -> None:
        for key in ("solution_open", "solution_close", "explanation_open", "explanation_close"):
            require(bool(getattr(self, key).strip()), f"format.{key}", "must be a non-empty tag")
        require(self.explanation_close not in self.explanation_open, "format.explanation_close",
                "must differ from format.explanation_open (its first occurrence ends the explanation)")
        check_template_key(self.student_template, "format.student_template")

    @property
    def system(self) -> str:
        return DEFAULT_SYSTEM_PROMPTS[self.variant] if self.system_prompt is None else self.system_prompt


@dataclass
class TeachDataConfig:
    """Problems with reference solutions (procedural families, or a file/hub set with a solution column)."""

    train: str = "procedural:arith,fractions,linear"
    eval: str = "procedural:arith,fractions,linear"
    train_size: int = 2000
    eval_size: int = 64
    difficulty: int = 1
    max_prompt_len: int = 512

    def validate(self) -> None:
        require(self.train_size >= 1 and self.eval_size >= 1, "data.eval_size", "must be >= 1")


@dataclass
class TeachRewardConfig:
    """``r = r_SS - kl_weight * r_KL + format_penalty * [no closing tag]``; reductions mean + alpha * min/max."""

    alpha: float = 0.01
    kl_weight: float = 3.0
    format_penalty: float = -1.0
    verify_timeout: float = 5.0     # grading the explanation's own boxed answer (a diagnostic, and distillation)
    workers: int = 1
    processes_per_worker: int = 1

    def validate(self) -> None:
        require(self.alpha >= 0, "reward.alpha", "must be >= 0")
        require(self.kl_weight >= 0, "reward.kl_weight", "must be >= 0")
        require(self.format_penalty <= 0, "reward.format_penalty", "is added to the reward: use a value <= 0")


@dataclass
class ScorerConfig:
    """The frozen student served by Ray actors that only compute log-probabilities."""

    num_workers: int = 1
    micro_batch_size: int = 16

    def validate(self) -> None:
        require(self.num_workers >= 1 and self.micro_batch_size >= 1, "scorer.num_workers", "must be >= 1")


@dataclass
class TeachRolloutConfig(RolloutConfig):
    """The PPO rollout section; sampling and reward log-probabilities share ``temperature``."""

    prompts_per_step: int = 8
    samples_per_prompt: int = 64
    max_new_tokens: int = 1024
    temperature: float = 0.7


@dataclass
class TeachAlgoConfig(AlgoConfig):
    """The PPO algorithm section with GRPO defaults (group-normalised advantages, KL to the reference in the loss)."""

    advantage: str = "grpo"
    whiten_advantages: bool = False
    kl_coef: float = 0.04
    kl_mode: Literal["reward", "loss"] = "loss"
    actor_lr: float = 1e-6


@dataclass
class TeachDistillConfig:
    """Explanations of the trained teacher written as SFT demonstrations (``RUN/distill/demos.jsonl``)."""

    enabled: bool = True
    problems: str = "procedural:arith,fractions,linear"
    size: int = 500
    split: Literal["train", "test"] = "train"
    difficulty: int = 1
    samples_per_problem: int = 1
    temperature: float = 0.0        # 0 = greedy
    template: str = "satori"        # the prompt template written into the rows (what `satori sft` uses)

    def validate(self) -> None:
        require(self.size >= 1 and self.samples_per_problem >= 1, "distill.size", "must be >= 1")
        require(self.temperature > 0 or self.samples_per_problem == 1, "distill.samples_per_problem",
                "greedy decoding (temperature 0) gives one sample; set distill.temperature > 0 or use 1")
        check_template_key(self.template, "distill.template")


@dataclass
class TeachConfig(TrainingRunConfig):
    """The run-level keys are :class:`satori.run_config.TrainingRunConfig`'s (``max_steps`` GRPO steps;
    ``seed`` also seeds the tiny models' warm-up); ``eval_every`` and ``checkpoint_every`` must be >= 1."""

    run_dir: str = "runs/teach"
    max_steps: int | None = 200
    eval_every: int = 10
    checkpoint_every: int = 10
    threads: int | None = 2
    eval_samples: int = 4           # sampled explanations per held-out problem (fixed seed) for eval/reward
    model: TeachModelConfig = field(default_factory=TeachModelConfig)
    data: TeachDataConfig = field(default_factory=TeachDataConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    rollout: TeachRolloutConfig = field(default_factory=TeachRolloutConfig)
    reward: TeachRewardConfig = field(default_factory=TeachRewardConfig)
    algo: TeachAlgoConfig = field(default_factory=TeachAlgoConfig)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    distill: TeachDistillConfig = field(default_factory=TeachDistillConfig)
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"model.tiny.seed": "seed"}

    def validate(self) -> None:
        require(self.eval_samples >= 1, "eval_samples", "must be >= 1")
        require(self.eval_every >= 1, "eval_every", "must be >= 1 (the teacher's reward curve needs evaluations)")
        require(self.checkpoint_every >= 1, "checkpoint_every", "must be >= 1")
        require(not self.rollout.filter_groups, "rollout.filter_groups",
                "satori teach trains on every group (its teacher reward is continuous, so groups rarely tie); "
                "dynamic sampling is not implemented here: set rollout.filter_groups=false")
        try:  # the PPO engine's own checks, on the settings it will run with
            validate_tree(self.rl_config(self.model.teacher))
        except ConfigError as exc:
            raise ConfigError(f"{exc} (checked as the PPO engine's config)") from None

    def rl_config(self, teacher_path: str) -> RLConfig:
        """The PPO engine's config: policy = the teacher at ``teacher_path``, no RAE, same run folder.

        Every key the two configs share is carried by name (:func:`satori.config.carry`): the run-level
        keys, the rollout, algorithm, Ray and tracking sections as they are, and the fields of the model,
        data and reward sections the PPO engine's sections also have; the rest keeps the PPO defaults.
        """
        return carry(self, RLConfig, model=carry(self.model, RLModelConfig, policy=teacher_path),
                     rae=RAEConfig(enabled=False))
