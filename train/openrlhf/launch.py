"""Run a satori PPO config with OpenRLHF's Ray PPO (``python -m openrlhf.cli.train_ppo_ray``).

    satori rl configs/rl_paper_7b.yaml --engine openrlhf [--dry-run] [key=value ...]

Written against openrlhf==0.11.2 (``OPENRLHF_VERSION``); every flag is checked against the
installed OpenRLHF's own argument definitions before anything runs. OpenRLHF trains on CUDA
GPUs (DeepSpeed, vLLM); ``--dry-run`` prints the command on any machine.

The run folder gets ``openrlhf/``: ``train.jsonl``/``eval.jsonl`` (the prompt set),
``reward_func.py`` + ``reward_settings.json`` (the reward), ``checkpoints/``, ``tensorboard/``;
the final policy goes to ``RUN/final`` as with satori's loop. On a multi-node cluster the run
folder must be on a filesystem every node sees (OpenRLHF's engines read the reward file).

How the config maps, and what OpenRLHF cannot do (refused with the key to change, never
silently dropped):
- one training step = one rollout batch of ``rollout.prompts_per_step`` prompts; the prompt
  file holds ``max_steps * prompts_per_step`` rows, one OpenRLHF episode;
- ``algo.mini_batches`` -> ``--train.batch_size`` (samples per optimizer step), ``ppo_epochs``
  -> ``--train.max_epochs``, ``warmup_steps`` -> ``--{actor,critic}.lr_warmup_ratio`` with a
  constant schedule after warmup;
- advantages: ``OPENRLHF_ESTIMATORS``, the estimators whose registry entry names an OpenRLHF
  counterpart (``Estimator.openrlhf`` in ``train.algorithms.advantages``); ``algo.whiten_advantages``
  must agree with OpenRLHF's whitening (``Estimator.openrlhf_whitens``; the default does);
  no dynamic sampling (``rollout.filter_groups``);
- resources: ``ray.learners`` learner GPUs (actor; critic and reference model get as many),
  ``rollout.num_workers`` vLLM engines of ``resources.gpus_per_engine`` GPUs,
  ``resources.colocate`` -> ``--train.colocate_all`` with vLLM and DeepSpeed sleep mode;
- restart states come from the starting checkpoint only (``rae.online=false``); no outcome
  reward model (``reward.orm``: OpenRLHF takes a reward model or a reward function, not both, and the
  verified reward is the function), verified-steps term (``reward.step_scale``) or per-token claim
  credit (``reward.claim_credit``); DeepSpeed bf16 training, fp32 master weights in the optimizer
  (``model.precision=bf16-mixed``); TensorBoard logging.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from satori.config import ConfigError, require
from train.algorithms.advantages import ADVANTAGE_ESTIMATORS
from train.openrlhf.export import LABEL_KEY, PROMPT_KEY, RAE_WITH_OFFICIAL_ROWS
from train.rl.config import RLConfig
from train.rl.resources import ResourcesConfig

OPENRLHF_VERSION = "0.11.2"
ENTRY_POINT = "openrlhf.cli.train_ppo_ray"
REWARD_FILE = Path(__file__).with_name("reward_func.py")

# satori's estimator name -> OpenRLHF's, from the registry
OPENRLHF_ESTIMATORS = {name: e.openrlhf for name, e in ADVANTAGE_ESTIMATORS.items() if e.openrlhf is not None}
LOSS_AGGREGATIONS = {"token_mean": "token-mean", "seq_mean_token_mean": "seq-mean-token-mean"}


@dataclass(frozen=True)
class Layout:
    """Where an OpenRLHF run keeps its files, under ``RUN/openrlhf`` (final model: ``RUN/final``)."""

    run_dir: Path

    @property
    def folder(self) -> Path:
        return self.run_dir / "openrlhf"

    @property
    def train(self) -> Path:
        return self.folder / "train.jsonl"

    @property
    def eval(self) -> Path:
        return self.folder / "eval.jsonl"

    @property
    def reward_file(self) -> Path:
        return self.folder / REWARD_FILE.name


def check_supported(config: RLConfig, resources: ResourcesConfig) -> None:
    """Raise ConfigError, naming the key to change, for settings OpenRLHF cannot honour."""
    algo = config.algo
    require(config.rollout.engine == "vllm", "rollout.engine", "OpenRLHF generates with vLLM: set rollout.engine=vllm")
    require(config.max_seconds is None and config.max_steps is not None, "max_seconds",
            "OpenRLHF runs a fixed number of steps and has no wall-clock budget: set max_steps and max_seconds=null")
    require(config.data.train_format == "problems" or not config.rae.enabled, "rae.enabled", RAE_WITH_OFFICIAL_ROWS)
    require(not (config.rae.enabled and config.rae.online), "rae.online",
            "OpenRLHF trains on a fixed prompt set, so restart states come from the starting checkpoint's samples "
            "only (the paper's setting): set rae.online=false")
    require(config.reward.orm is None, "reward.orm",
            f"OpenRLHF {OPENRLHF_VERSION} rewards a sample with either a reward model (--reward.model_name_or_path) "
            "or a reward function (--reward.remote_url), never both, and satori's verified outcome and restart "
            "bonus need the function; unset reward.orm (satori's own loop, `satori rl` without --engine openrlhf, "
            "adds the ORM term)")
    require(config.reward.step_scale == 0, "reward.step_scale",
            "the OpenRLHF reward function has no verified-steps term; set reward.step_scale=0")
    require(config.reward.claim_credit == 0, "reward.claim_credit",
            "OpenRLHF takes one reward per sample, so per-token claim credit cannot reach it; set reward.claim_credit=0")
    require(config.model.precision == "bf16-mixed", "model.precision",
            "OpenRLHF trains DeepSpeed bf16 with fp32 master weights: set model.precision=bf16-mixed")
    require(algo.loss_agg in LOSS_AGGREGATIONS, "algo.loss_agg",
            f"OpenRLHF aggregates the loss as one of {', '.join(LOSS_AGGREGATIONS)}")
    require(algo.advantage in OPENRLHF_ESTIMATORS, "algo.advantage",
            f"OpenRLHF has no estimator matching satori's {algo.advantage}: "
            f"use one of {', '.join(OPENRLHF_ESTIMATORS)}")
    require(not config.rollout.filter_groups, "rollout.filter_groups",
            "OpenRLHF filters groups by a mean-reward range, not by equal rewards; set rollout.filter_groups=false")
    whitens = ADVANTAGE_ESTIMATORS[algo.advantage].openrlhf_whitens
    require(whitens is None or whitens == algo.whiten, "algo.whiten_advantages",
            f"OpenRLHF {'always' if whitens else 'never'} whitens {algo.advantage} advantages: "
            f"set algo.whiten_advantages={str(whitens).lower()}")
    require(config.tracking.wandb_project is None, "tracking.wandb_project",
            "the OpenRLHF launcher logs to TensorBoard only; unset tracking.wandb_project")
    require(resources.gpus_per_engine >= 1, "resources.gpus_per_engine",
            "OpenRLHF runs its vLLM engines on GPUs: set resources.gpus_per_engine (tensor-parallel size) >= 1")
    require(resources.gpus_per_learner == 1, "resources.gpus_per_learner",
            "OpenRLHF trains with one GPU per learner process: set resources.gpus_per_learner=1")
    learners, per_node = config.ray.learners, resources.gpus_per_node
    require(learners <= per_node or learners % per_node == 0, "ray.learners",
            f"learner GPUs span whole nodes in OpenRLHF: use a multiple of resources.gpus_per_node={per_node}")
    batch = config.rollout.prompts_per_step * config.rollout.samples_per_prompt
    require(batch // algo.micro_batch_size >= learners, "algo.micro_batch_size",
            f"OpenRLHF needs at least one micro-batch per learner: {batch} samples per step in micro-batches of "
            f"{algo.micro_batch_size} feed fewer than {learners} learners")
    resources.check_counts(learners, config.rollout.num_workers)


def build_command(config: RLConfig, resources: ResourcesConfig, layout: Layout) -> list[str]:
    """The ``python -m openrlhf.cli.train_ppo_ray ...`` argv for ``config`` (checked by :func:`check_supported`)."""
    check_supported(config, resources)
    algo, rollout, data = config.algo, config.rollout, config.data
    learners = config.ray.learners
    nodes, per_node = math.ceil(learners / resources.gpus_per_node), min(learners, resources.gpus_per_node)
    samples = rollout.prompts_per_step * rollout.samples_per_prompt
    flags: dict[str, object] = {
        "actor.model_name_or_path": _local_or_hub(config.model.policy),
        "reward.remote_url": layout.reward_file,
        "data.prompt_dataset": layout.train, "data.input_key": PROMPT_KEY, "data.label_key": LABEL_KEY,
        "data.max_len": data.max_prompt_len + rollout.max_new_tokens,
        "eval.dataset": layout.eval, "eval.steps": config.eval_every or config.max_steps, "eval.temperature": 0.0,
        "eval.n_samples_per_prompt": 1,
        # one episode over max_steps * prompts_per_step rows
        "train.num_episodes": 1, "train.seed": config.seed,
        "rollout.batch_size": rollout.prompts_per_step, "rollout.n_samples_per_prompt": rollout.samples_per_prompt,
        "rollout.max_new_tokens": rollout.max_new_tokens, "rollout.temperature": rollout.temperature,
        "rollout.top_p": rollout.top_p, "rollout.micro_batch_size": algo.micro_batch_size,
        "train.batch_size": samples // algo.mini_batches, "train.micro_batch_size": algo.micro_batch_size,
        "train.max_epochs": algo.ppo_epochs,
        "algo.advantage.estimator": OPENRLHF_ESTIMATORS[algo.advantage],
        "algo.advantage.gamma": algo.gamma, "algo.advantage.lambd": algo.gae_lambda,
        "algo.kl.init_coef": algo.kl_coef, "algo.kl.estimator": algo.kl_estimator,
        "actor.eps_clip_low_high": (algo.clip_eps_low, algo.clip_eps_high),
        "actor.dual_clip": algo.dual_clip, "actor.entropy_coef": algo.entropy_coef or None,
        "actor.loss_agg_mode": LOSS_AGGREGATIONS[algo.loss_agg], "critic.value_clip": algo.value_clip,
        "reward.overlong_buffer_len": config.reward.overlong_buffer,
        "reward.overlong_penalty_factor": config.reward.overlong_penalty,
        "ds.param_dtype": "bf16",
        "actor.num_nodes": nodes, "actor.num_gpus_per_node": per_node,
        "critic.num_nodes": nodes, "critic.num_gpus_per_node": per_node,
        "ref.num_nodes": nodes, "ref.num_gpus_per_node": per_node,
        "vllm.num_engines": rollout.num_workers, "vllm.tensor_parallel_size": resources.gpus_per_engine,
        "vllm.gpu_memory_utilization": rollout.gpu_memory_utilization,
        "ckpt.path": layout.folder / "checkpoints", "ckpt.output_dir": layout.run_dir / "final",
        "ckpt.save_steps": config.checkpoint_every or config.max_steps, "ckpt.max_num": config.keep_checkpoints,
        "logger.tensorboard_dir": layout.folder / "tensorboard" if config.tracking.tensorboard else None,
        "logger.logging_steps": config.tracking.log_every,
    }
    if config.model.critic:
        flags["critic.model_name_or_path"] = _local_or_hub(config.model.critic)
    for prefix, lr in (("actor", algo.actor_lr), ("critic", algo.critic_lr)):
        flags.update({f"{prefix}.adam.lr": lr, f"{prefix}.adam.weight_decay": algo.weight_decay,
                      f"{prefix}.max_norm": algo.max_grad_norm, f"{prefix}.lr_scheduler": "constant_with_warmup",
                      f"{prefix}.lr_warmup_ratio": algo.warmup_steps / config.max_steps})
    switches = {
        "algo.kl.use_loss": algo.kl_coef > 0 and algo.kl_mode == "loss",
        "actor.gradient_checkpointing_enable": config.model.gradient_checkpointing,
        "train.colocate_all": resources.colocate, "vllm.enable_sleep": resources.colocate,
        "ds.enable_sleep": resources.colocate,
        "ckpt.load_enable": config.resume, "ckpt.save_hf": True,
    }
    argv = [sys.executable, "-m", ENTRY_POINT]
    for name, value in flags.items():
        if value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        argv += [f"--{name}", *(str(v) for v in values)]
    argv += [f"--{name}" for name, on in switches.items() if on]
    return argv


def _local_or_hub(model: str) -> str:
    """An existing local folder as an absolute path (OpenRLHF's actors may run elsewhere), else the hub name."""
    return str(Path(model).absolute()) if Path(model).exists() else model


def openrlhf_parser(source: str | Path | None = None) -> argparse.ArgumentParser:
    """OpenRLHF's own argument parser for ``train_ppo_ray``, built from its source file.

    OpenRLHF defines its flags inline under ``if __name__ == "__main__":``; this runs just
    those ``parser = argparse.ArgumentParser()`` / ``parser.add_argument(...)`` statements (and
    the ``for`` loops made of them), refusing anything else, so no OpenRLHF module is imported
    (it needs CUDA packages). ``source`` defaults to the installed ``openrlhf/cli/train_ppo_ray.py``.
    """
    path = Path(source) if source is not None else installed_entry_point()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    main = next((node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) in
                 ("__name__ == '__main__'", '__name__ == "__main__"')), None)
    if main is None:
        raise ValueError(f"{path}: no `if __name__ == '__main__':` block holding the argument definitions")
    statements = []
    for node in main.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.value) == "parser.parse_args()":
            break
        if not _defines_arguments(node):
            raise ValueError(f"{path}:{node.lineno}: unexpected statement among OpenRLHF's argument definitions; "
                             f"this launcher supports openrlhf=={OPENRLHF_VERSION}")
        statements.append(node)
    namespace: dict[str, object] = {"argparse": argparse, "datetime": datetime}
    exec(compile(ast.Module(body=statements, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace["parser"]  # type: ignore[return-value]


def _defines_arguments(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        return ast.unparse(node) == "parser = argparse.ArgumentParser()"
    if isinstance(node, ast.Expr):
        call = node.value
        return isinstance(call, ast.Call) and ast.unparse(call.func) == "parser.add_argument"
    if isinstance(node, ast.For):
        return all(_defines_arguments(child) for child in node.body) and not node.orelse
    return False


def installed_entry_point() -> Path:
    """The installed ``openrlhf/cli/train_ppo_ray.py`` (found without importing OpenRLHF)."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"OpenRLHF is not installed: pip install openrlhf=={OPENRLHF_VERSION} "
                                "(on a CUDA machine, with its dependencies)")
    return Path(next(iter(spec.submodule_search_locations))) / "cli" / "train_ppo_ray.py"


def check_flags(argv: list[str], parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse the flags of ``argv`` (after ``-m ENTRY_POINT``) with OpenRLHF's parser; ValueError if it refuses them."""
    parser = parser or openrlhf_parser()
    flags = argv[argv.index(ENTRY_POINT) + 1:]
    namespace, unknown = parser.parse_known_args(flags)
    if unknown:
        raise ValueError(f"OpenRLHF does not know {unknown}; this launcher targets openrlhf=={OPENRLHF_VERSION}")
    return namespace


def write_reward_files(config: RLConfig, layout: Layout) -> None:
    """Copy the reward function into the run folder with its settings beside it."""
    from satori.io import atomic_write_json, atomic_write_text
    from train.openrlhf import reward_func

    layout.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(layout.reward_file, REWARD_FILE.read_text(encoding="utf-8"))
    atomic_write_json(layout.folder / reward_func.SETTINGS_FILE, {
        "bonus_scale": config.reward.bonus_scale, "verify_timeout": config.reward.verify_timeout,
        "verifier_processes": config.reward.processes_per_worker})


def prepare(config: RLConfig, layout: Layout) -> None:
    """Write the reward files and (unless already there) the prompt set, sampling restart states with vLLM."""
    from satori.models import load_tokenizer
    from train.openrlhf.export import export_prompt_set

    write_reward_files(config, layout)
    if layout.train.is_file() and layout.eval.is_file():
        print(f"reusing the prompt set in {layout.folder}")
        return
    tokenizer = load_tokenizer(config.model.policy)
    engine = None
    if config.rae.enabled:
        from satori.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(config.model.policy, tokenizer, dtype=config.rollout_dtype, seed=config.seed,
                            max_model_len=config.data.max_prompt_len + config.rollout.max_new_tokens,
                            gpu_memory_utilization=config.rollout.gpu_memory_utilization)
    try:
        summary = export_prompt_set(config, layout.folder, tokenizer, engine=engine)
    finally:
        if engine is not None:
            engine.close()
    print(f"prompt set: {summary.rows} rows ({summary.restarts.get(-1, 0)} restarts from incorrect, "
          f"{summary.restarts.get(1, 0)} from correct prefixes; {summary.dropped_too_long} too long) -> {summary.train}")


def run_openrlhf(config: RLConfig, dry_run: bool = False) -> int:
    """``satori rl CONFIG --engine openrlhf``: print (dry run) or run OpenRLHF's PPO; returns an exit code."""
    resources: ResourcesConfig = config.resources
    layout = Layout(Path(config.run_dir).absolute())
    try:
        argv = build_command(config, resources, layout)
    except ConfigError as exc:
        print(f"satori rl --engine openrlhf: {exc}", file=sys.stderr)
        return 2
    try:
        check_flags(argv)
    except FileNotFoundError as exc:
        if not dry_run:
            print(f"satori rl --engine openrlhf: {exc}", file=sys.stderr)
            return 2
        print(f"(flags not checked: {exc})", file=sys.stderr)
    except ValueError as exc:
        print(f"satori rl --engine openrlhf: {exc}", file=sys.stderr)
        return 2
    print(shlex.join(argv))
    if dry_run:
        return 0
    import torch

    if not torch.cuda.is_available():
        print("satori rl --engine openrlhf: OpenRLHF trains on CUDA GPUs and none is visible here; "
              "use --dry-run to see the command, or satori's own loop (no --engine)", file=sys.stderr)
        return 2
    prepare(config, layout)
    env = dict(os.environ)
    if config.ray.address:
        env["RAY_ADDRESS"] = config.ray.address
    return subprocess.run(argv, env=env, check=False).returncode


__all__ = ["ENTRY_POINT", "Layout", "OPENRLHF_ESTIMATORS", "OPENRLHF_VERSION", "build_command", "check_flags",
           "check_supported", "openrlhf_parser", "prepare", "run_openrlhf", "write_reward_files"]
