"""`RLConfig`: every setting of a PPO run, validated up front."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from satori.config import require
from satori.prompts import check_template_key
from satori.run_config import TrainingRunConfig
from satori.tracking import TrackingConfig
from train.algorithms.advantages import ADVANTAGE_ESTIMATORS
from train.precision import Precision, check_learning_rate, compute_dtype
from train.rl.resources import ResourcesConfig


@dataclass
class RLModelConfig:
    policy: str = "runs/sft_tiny/model"  # the SFT checkpoint (HF folder) the run starts from
    critic: str | None = None                   # defaults to the policy's backbone with a fresh value head
    precision: Precision = "fp32"               # actor and critic: see train.precision
    gradient_checkpointing: bool = False
    RENAMED_KEYS: ClassVar[dict[str, str]] = {
        "dtype": "use model.precision: fp32, bf16-mixed (fp32 master weights, bf16 compute) or bf16-pure "
                 "(what dtype: bfloat16 was)"}


@dataclass
class RLDataConfig:
    train: str = "procedural:arith,fractions,linear"  # procedural families, a local file or a hub name
    train_format: Literal["problems", "satori-rl"] = "problems"  # satori-rl: official RL rows (train.rl.satori_rl)
    eval: str = "procedural:arith,fractions,linear"
    train_size: int = 4000
    eval_size: int = 200                        # in-run greedy evaluation problems (0: none)
    difficulty: int = 1
    template: str = "satori"
    max_prompt_len: int = 256


@dataclass
class RolloutConfig:
    engine: Literal["hf", "vllm"] = "hf"
    dtype: Literal["float32", "bfloat16"] | None = None  # None: the learner's compute dtype (model.precision)
    num_workers: int = 1
    prompts_per_step: int = 32
    samples_per_prompt: int = 4
    max_new_tokens: int = 160
    temperature: float = 1.0
    top_p: float = 1.0
    max_batch_size: int = 128
    gpu_memory_utilization: float = 0.1   # vLLM only (on CPU: share of memory for the KV cache)
    filter_groups: bool = False     # DAPO dynamic sampling: train only on groups whose rewards differ
    max_refill_rounds: int = 3      # with filter_groups: extra generation rounds per step at most


@dataclass
class RAEConfig:
    enabled: bool = True
    restart_ratio: float = 0.25     # share of prompts per step that are restart states
    min_backtrack: int = 1          # cut 1..max_backtrack steps before the end
    max_backtrack: int = 3
    offline_samples: int = 2        # samples per train problem from the starting checkpoint (paper's source)
    offline_problems: int = 256     # how many train problems to sample them on
    online: bool = True             # also restart from the policy's recent rollouts
    buffer_size: int = 2048
    balance: bool = True            # draw restarts from correct and incorrect prefixes equally


@dataclass
class RewardConfig:
    bonus_scale: float = 0.5
    overlong_buffer: int | None = None
    overlong_penalty: float = 1.0
    orm: str | None = None          # an outcome reward model folder (``satori rm``'s model/): adds orm_scale * sigma(z)
    orm_scale: float = 1.0          # weight of the ORM term
    orm_workers: int = 1            # reward-model actors (batched scoring), beside the reward workers
    orm_batch_size: int = 16        # sequences per forward pass of a reward-model actor
    step_scale: float = 0.0         # weight of the verified-steps term (share of true arithmetic claims)
    claim_credit: float = 0.0       # per-token advantage for writing a true (+) or false (-) claim
    verify_timeout: float = 5.0     # seconds per answer check
    workers: int = 1                # reward actors
    processes_per_worker: int = 1   # verifier processes inside each reward actor


@dataclass
class AlgoConfig:
    advantage: str = "gae"          # a name in train.algorithms.advantages.ADVANTAGE_ESTIMATORS
    gamma: float = 1.0
    gae_lambda: float = 0.95
    whiten_advantages: bool | None = None   # None: the estimator's default (``Estimator.whiten_by_default``)
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.2
    dual_clip: float | None = None
    value_clip: float = 0.2
    kl_coef: float = 0.0
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"
    kl_mode: Literal["reward", "loss"] = "reward"
    entropy_coef: float = 0.0
    loss_agg: Literal["token_mean", "seq_mean_token_mean", "seq_mean_token_sum"] = "token_mean"
    actor_lr: float = 2e-7
    critic_lr: float = 5e-6
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    ppo_epochs: int = 1
    mini_batches: int = 1
    micro_batch_size: int = 16

    @property
    def whiten(self) -> bool:
        """Whether the advantages are whitened over the batch: ``whiten_advantages``, or the estimator's default."""
        if self.whiten_advantages is not None:
            return self.whiten_advantages
        return ADVANTAGE_ESTIMATORS[self.advantage].whiten_by_default


@dataclass
class RayConfig:
    address: str | None = None      # None starts a local instance; "auto" or host:port joins a cluster
    num_cpus: int | None = None
    learners: int = 1


@dataclass
class RLConfig(TrainingRunConfig):
    """The run-level keys are :class:`satori.run_config.TrainingRunConfig`'s (``max_steps`` PPO steps
    and/or ``max_seconds``, at least one set; ``eval_every: 0`` evaluates only before the first and after the last step; the rollout
    workers split ``threads``, see :attr:`rollout_threads`)."""

    run_dir: str = "runs/rl"
    max_steps: int | None = 40
    eval_every: int = 10
    checkpoint_every: int = 10
    threads: int | None = 2
    log_samples_every: int = 1      # rollout samples to RUN/rollout_samples.jsonl every N steps (0: after the last)
    log_samples_per_step: int = 16  # at most this many per logged step, restarts and plain (0: none)
    model: RLModelConfig = field(default_factory=RLModelConfig)
    data: RLDataConfig = field(default_factory=RLDataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    rae: RAEConfig = field(default_factory=RAEConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def validate(self) -> None:
        algo, rollout, rae = self.algo, self.rollout, self.rae
        require(algo.advantage in ADVANTAGE_ESTIMATORS, "algo.advantage",
                f"{algo.advantage!r} is not one of {', '.join(ADVANTAGE_ESTIMATORS)}")
        estimator = ADVANTAGE_ESTIMATORS[algo.advantage]
        require(not estimator.needs_groups or rollout.samples_per_prompt > 1,
                "rollout.samples_per_prompt",
                f"advantage {algo.advantage!r} compares samples of the same prompt; set samples_per_prompt >= 2")
        require(estimator.reward_kl or not (algo.kl_coef > 0 and algo.kl_mode == "reward"), "algo.kl_mode",
                f"{algo.advantage} keeps samples scoring at least the correct level, which a KL penalty in the reward "
                "would push below; set algo.kl_mode=loss (or algo.kl_coef=0)")
        require(not rollout.filter_groups or rollout.samples_per_prompt > 1, "rollout.filter_groups",
                "filtering drops groups whose samples all got the same reward, which a single sample always is; "
                "set samples_per_prompt >= 2")
        require(rollout.max_refill_rounds >= 0, "rollout.max_refill_rounds", "must be >= 0")
        require(rollout.temperature > 0, "rollout.temperature", "PPO samples; set a temperature > 0")
        require(0.0 <= rae.restart_ratio < 1.0, "rae.restart_ratio", "must be in [0, 1)")
        require(1 <= rae.min_backtrack <= rae.max_backtrack, "rae.min_backtrack",
                "need 1 <= rae.min_backtrack <= rae.max_backtrack")
        require(not rae.enabled or rae.offline_samples > 0 or rae.online, "rae.online",
                "RAE needs restart states: set rae.offline_samples > 0 or rae.online=true")
        batch = rollout.prompts_per_step * rollout.samples_per_prompt
        require(batch % algo.mini_batches == 0, "algo.mini_batches",
                f"must divide prompts_per_step * samples_per_prompt = {batch}")
        require(self.max_steps is not None or self.max_seconds is not None, "max_steps",
                "set how many PPO steps to run, or a wall-clock budget in max_seconds")
        require(self.ray.learners >= 1, "ray.learners", "must be >= 1")
        require(batch // algo.mini_batches >= self.ray.learners, "algo.mini_batches",
                f"a mini-batch of {batch // algo.mini_batches} rows (prompts_per_step * samples_per_prompt / "
                f"mini_batches) leaves some of the {self.ray.learners} learners (ray.learners) without a row; "
                "use fewer mini-batches or learners, or more prompts or samples per step")
        require(rollout.num_workers >= 1, "rollout.num_workers", "must be >= 1")
        require(self.log_samples_every >= 0, "log_samples_every", "must be >= 0 (0: only after the last step)")
        require(self.log_samples_per_step >= 0, "log_samples_per_step", "must be >= 0 (0 logs no samples)")
        self.resources.check_counts(self.ray.learners, rollout.num_workers)
        require(self.reward.step_scale >= 0, "reward.step_scale", "must be >= 0 (0 turns the term off)")
        require(self.reward.claim_credit >= 0, "reward.claim_credit", "must be >= 0 (0 turns the credit off)")
        require(algo.actor_lr > 0 and algo.critic_lr > 0, "algo.actor_lr", "learning rates must be positive")
        check_learning_rate(self.model.precision, algo.actor_lr, "algo.actor_lr")
        if self.uses_critic:
            check_learning_rate(self.model.precision, algo.critic_lr, "algo.critic_lr")
        require(self.reward.orm is None or (self.reward.orm_scale > 0 and self.reward.orm_workers >= 1
                                            and self.reward.orm_batch_size >= 1), "reward.orm_scale",
                "with reward.orm set, orm_scale must be > 0 and orm_workers, orm_batch_size >= 1")
        require(self.data.eval_size >= 0, "data.eval_size", "must be >= 0 (0: no in-run evaluation)")
        check_template_key(self.data.template, "data.template")
        require(self.data.train_format == "problems" or not self.data.train.startswith("procedural:"),
                "data.train_format", "satori-rl reads a file or hub dataset of official RL rows, not procedural problems")

    @property
    def rollout_dtype(self) -> str:
        """The rollout engines' dtype: ``rollout.dtype``, or the learner's compute dtype."""
        return self.rollout.dtype or compute_dtype(self.model.precision)

    @property
    def rollout_threads(self) -> int | None:
        """Torch threads of each rollout worker: ``threads`` split over ``rollout.num_workers`` (at least 1;
        null when ``threads`` is null, each worker keeping torch's default).
        On CPU, single-threaded workers side by side decode faster than one worker on all threads: a
        small model's decode step is many tiny kernels, and threads wait at each one for a thread the
        scheduler has taken away."""
        return None if self.threads is None else max(1, self.threads // self.rollout.num_workers)

    @property
    def uses_critic(self) -> bool:
        return ADVANTAGE_ESTIMATORS[self.algo.advantage].needs_critic

    @property
    def needs_scoring(self) -> bool:
        """Whether a step needs a forward pass before its update: for critic values, reference
        log-probs, or old log-probs that differ from the learner's own (several mini-batches or epochs).
        A single update on fresh samples takes its old log-probs from the update's own forward pass."""
        algo = self.algo
        return self.uses_critic or algo.kl_coef > 0 or algo.ppo_epochs > 1 or algo.mini_batches > 1
