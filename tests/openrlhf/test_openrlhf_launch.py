"""The RLConfig -> OpenRLHF flag mapping, parsed by the installed openrlhf 0.11.2's own argument definitions."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from satori.config import ConfigError, load_config
from train.algorithms.advantages import ADVANTAGE_ESTIMATORS
from train.openrlhf.launch import (ENTRY_POINT, OPENRLHF_ESTIMATORS, OPENRLHF_VERSION, Layout, build_command,
                                   check_flags, openrlhf_parser, prepare, run_openrlhf)
from train.rl.config import RLConfig
from train.rl.resources import ResourcesConfig

ROOT = Path(__file__).resolve().parents[2]
GPU = ResourcesConfig(gpus_per_engine=1, gpus_per_learner=1)


@pytest.fixture(scope="module")
def parser():
    if importlib.util.find_spec("openrlhf") is None:
        pytest.skip(f"openrlhf not installed: pip install --no-deps openrlhf=={OPENRLHF_VERSION}")
    assert importlib.metadata.version("openrlhf") == OPENRLHF_VERSION
    return openrlhf_parser()


def _paper(*overrides: str) -> RLConfig:
    return load_config(RLConfig, ROOT / "configs" / "rl_paper_7b.yaml", list(overrides))


def _parsed(parser, config: RLConfig, resources: ResourcesConfig = GPU) -> dict:
    argv = build_command(config, resources, Layout(Path(config.run_dir)))
    assert argv[:3] == [sys.executable, "-m", ENTRY_POINT]
    return vars(check_flags(argv, parser))


def test_paper_config_maps_to_openrlhf_flags(parser):
    args = _parsed(parser, _paper())
    expected = {
        "actor.model_name_or_path": "runs/satori-7b/sft/final",
        "reward.remote_url": "runs/satori-7b/rl/openrlhf/reward_func.py",
        "data.prompt_dataset": "runs/satori-7b/rl/openrlhf/train.jsonl", "data.input_key": "prompt",
        "data.label_key": "label", "data.max_len": 1024 + 3072, "data.apply_chat_template": False,
        "eval.dataset": "runs/satori-7b/rl/openrlhf/eval.jsonl", "eval.steps": 20, "eval.temperature": 0.0,
        "rollout.batch_size": 1024, "rollout.n_samples_per_prompt": 1, "rollout.max_new_tokens": 3072,
        "rollout.temperature": 0.6, "train.batch_size": 1024 // 8, "train.micro_batch_size": 4,
        "train.max_epochs": 1, "train.num_episodes": 1,
        "algo.advantage.estimator": "gae", "algo.advantage.gamma": 1.0, "algo.advantage.lambd": 0.95,
        "algo.kl.init_coef": 0.0, "algo.kl.use_loss": False, "actor.eps_clip_low_high": [0.2, 0.2],
        "critic.value_clip": 0.2, "actor.loss_agg_mode": "token-mean",
        "actor.adam.lr": 2e-7, "critic.adam.lr": 5e-6, "actor.lr_warmup_ratio": 0.0,
        "actor.lr_scheduler": "constant_with_warmup", "ds.param_dtype": "bf16",
        "actor.gradient_checkpointing_enable": True,
        "actor.num_nodes": 1, "actor.num_gpus_per_node": 8, "critic.num_gpus_per_node": 8,
        "vllm.num_engines": 8, "vllm.tensor_parallel_size": 1, "vllm.gpu_memory_utilization": 0.85,
        "train.colocate_all": False, "ckpt.save_steps": 20, "ckpt.load_enable": True, "ckpt.save_hf": True,
        "ckpt.output_dir": "runs/satori-7b/rl/final", "train.seed": 0,
    }
    assert {key: args[key] for key in expected} == expected


def test_variants_map_one_to_one(parser):
    grpo = _parsed(parser, _paper("algo.advantage=grpo_no_std", "algo.whiten_advantages=false",
                                  "rollout.samples_per_prompt=4", "algo.kl_coef=0.001", "algo.kl_mode=loss",
                                  "reward.overlong_buffer=512", "algo.warmup_steps=50", "algo.clip_eps_high=0.28",
                                  "ray.learners=16"))
    assert grpo["algo.advantage.estimator"] == "dr_grpo" and grpo["critic.model_name_or_path"] is None
    assert grpo["algo.kl.use_loss"] and grpo["algo.kl.init_coef"] == 0.001 and grpo["algo.kl.estimator"] == "k3"
    assert grpo["reward.overlong_buffer_len"] == 512.0 and grpo["actor.lr_warmup_ratio"] == 0.1
    assert grpo["actor.eps_clip_low_high"] == [0.2, 0.28] and grpo["train.batch_size"] == 1024 * 4 // 8
    assert (grpo["actor.num_nodes"], grpo["actor.num_gpus_per_node"]) == (2, 8)
    colocated = _parsed(parser, _paper("rollout.num_workers=4"),
                        ResourcesConfig(gpus_per_engine=2, gpus_per_learner=1, colocate=True))
    assert colocated["train.colocate_all"] and colocated["vllm.enable_sleep"] and colocated["ds.enable_sleep"]
    assert (colocated["vllm.num_engines"], colocated["vllm.tensor_parallel_size"]) == (4, 2)
    assert _parsed(parser, _paper("algo.advantage=rloo", "algo.whiten_advantages=false",
                                  "rollout.samples_per_prompt=2"))["algo.advantage.estimator"] == "rloo"


def test_openrlhf_estimators_are_the_registry_entries_naming_a_counterpart():
    assert OPENRLHF_ESTIMATORS == {name: e.openrlhf for name, e in ADVANTAGE_ESTIMATORS.items() if e.openrlhf}
    assert len(set(OPENRLHF_ESTIMATORS.values())) == len(OPENRLHF_ESTIMATORS)  # one to one
    assert all(e.openrlhf or e.openrlhf_whitens is None for e in ADVANTAGE_ESTIMATORS.values())


@pytest.mark.parametrize("name", list(ADVANTAGE_ESTIMATORS))
def test_every_estimator_maps_to_an_openrlhf_choice_or_is_refused(parser, name):
    """With its default whitening, an estimator with a counterpart becomes a flag value OpenRLHF's parser
    accepts; one without is refused, the message listing exactly the mapped estimators."""
    config = _paper(f"algo.advantage={name}", "rollout.samples_per_prompt=4")
    counterpart = ADVANTAGE_ESTIMATORS[name].openrlhf
    if counterpart is None:
        with pytest.raises(ConfigError, match=f"key 'algo.advantage'.*use one of {', '.join(OPENRLHF_ESTIMATORS)}$"):
            build_command(config, GPU, Layout(Path("runs/x")))
    else:
        assert _parsed(parser, config)["algo.advantage.estimator"] == counterpart


@pytest.mark.parametrize("overrides, resources, key", [
    (["rollout.engine=hf"], GPU, "rollout.engine"),
    (["rae.online=true"], GPU, "rae.online"),
    (["model.precision=fp32"], GPU, "model.precision"),
    (["algo.whiten_advantages=false"], GPU, "algo.whiten_advantages"),
    (["algo.advantage=grpo_no_std", "algo.whiten_advantages=true", "rollout.samples_per_prompt=4"], GPU,
     "algo.whiten_advantages"),
    (["algo.advantage=grpo", "rollout.samples_per_prompt=4"], GPU, "algo.advantage"),
    (["algo.advantage=raft"], GPU, "algo.advantage"),
    (["rollout.filter_groups=true", "rollout.samples_per_prompt=4"], GPU, "rollout.filter_groups"),
    (["algo.loss_agg=seq_mean_token_sum"], GPU, "algo.loss_agg"),
    (["reward.orm=runs/orm"], GPU, "reward.orm"),
    (["max_seconds=600"], GPU, "max_seconds"),
    (["max_steps=null", "max_seconds=600"], GPU, "max_seconds"),
    (["reward.step_scale=0.5"], GPU, "reward.step_scale"),
    (["reward.claim_credit=1.0"], GPU, "reward.claim_credit"),
    (["data.train_format=satori-rl", "data.train=rl.jsonl", "rae.enabled=true"], GPU, "rae.enabled"),
    ([], ResourcesConfig(), "resources.gpus_per_engine"),
    (["ray.learners=12"], GPU, "ray.learners"),
    (["rollout.num_workers=3"], ResourcesConfig(gpus_per_engine=2, gpus_per_learner=1, colocate=True),
     "resources.colocate"),
])
def test_refuses_what_openrlhf_cannot_do(overrides, resources, key):
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        build_command(_paper(*overrides), resources, Layout(Path("runs/x")))


def test_parser_is_openrlhf_own(parser):
    with pytest.raises(ValueError, match="does not know"):
        check_flags([sys.executable, "-m", ENTRY_POINT, "--vllm.num_engines", "1", "--no_such.flag", "1"], parser)
    with pytest.raises(SystemExit):  # a choice OpenRLHF refuses
        check_flags([sys.executable, "-m", ENTRY_POINT, "--algo.advantage.estimator", "ppo_magic"], parser)


def test_parser_refuses_unexpected_source(tmp_path):
    source = tmp_path / "train_ppo_ray.py"
    source.write_text('if __name__ == "__main__":\n    parser = argparse.ArgumentParser()\n'
                      '    import os\n    args = parser.parse_args()\n')
    with pytest.raises(ValueError, match=r"train_ppo_ray.py:3: unexpected statement"):
        openrlhf_parser(source)


def test_run_openrlhf_dry_run_prints_the_command(parser, capsys):
    config = _paper()
    config.resources = GPU  # the lead's RLConfig gets a `resources` section
    assert run_openrlhf(config, dry_run=True) == 0
    out = capsys.readouterr().out
    assert f"-m {ENTRY_POINT} --actor.model_name_or_path runs/satori-7b/sft/final" in out
    config.rollout.engine = "hf"
    assert run_openrlhf(config, dry_run=True) == 2
    assert "rollout.engine" in capsys.readouterr().err


def test_real_run_without_cuda_is_refused(parser, capsys, tmp_path):
    config = _paper(f"run_dir={tmp_path}")
    config.resources = GPU
    assert run_openrlhf(config, dry_run=False) == 2
    assert "CUDA" in capsys.readouterr().err and not (tmp_path / "openrlhf").exists()


def test_prepare_writes_the_run_folder_once(tmp_path, tiny_tokenizer, capsys):
    policy = tmp_path / "policy"
    tiny_tokenizer.save_pretrained(policy)
    config = load_config(RLConfig, overrides=[f"run_dir={tmp_path / 'run'}", f"model.policy={policy}",
                                              "rae.enabled=false", "data.train_size=6", "data.eval_size=2",
                                              "max_steps=2", "rollout.prompts_per_step=4", "reward.bonus_scale=0.25"])
    layout = Layout(Path(config.run_dir))
    prepare(config, layout)
    assert len(layout.train.read_text().splitlines()) == 8 and len(layout.eval.read_text().splitlines()) == 2
    assert json.loads((layout.folder / "reward_settings.json").read_text())["bonus_scale"] == 0.25
    assert layout.reward_file.read_text() == (ROOT / "train" / "openrlhf" / "reward_func.py").read_text()
    before = layout.train.stat().st_mtime_ns
    prepare(config, layout)  # a restarted launch keeps the prompt set it made
    assert layout.train.stat().st_mtime_ns == before and "reusing the prompt set" in capsys.readouterr().out
