"""Every shipped YAML config loads and validates; the pipeline derives stage paths and refuses overrides of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from satori.config import ConfigError, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def stage_classes() -> dict:
    from data_synthesis.config import SynthConfig
    from eval.config import EvalConfig
    from train.pretrain import PretrainConfig
    from train.rl.config import RLConfig
    from train.sft.config import SFTConfig
    from train.rm.config import RMConfig
    from train.teach.config import TeachConfig

    return {"pretrain": PretrainConfig, "synth": SynthConfig, "sft": SFTConfig, "rl": RLConfig, "eval": EvalConfig,
            "teach": TeachConfig, "rm": RMConfig}


def config_class(path: Path):
    from train.pipeline_config import PipelineConfig

    return next((cls for stage, cls in stage_classes().items() if path.name.startswith(stage + "_")), PipelineConfig)


# Files of stage sections, each run by its own command (`satori sft FILE`, `satori rl FILE`, ...), not by `satori run`.
SECTIONED = ("paper_",)


def configs_to_check(path: Path) -> list:
    """``(class, section, yaml tree)`` for each config ``path`` holds: the whole file, or each stage section."""
    import yaml

    tree = yaml.safe_load(path.read_text())
    if path.name.startswith(SECTIONED):
        return [(stage_classes()[section], section, body) for section, body in tree.items()]
    return [(config_class(path), None, tree)]


def test_configs_are_shipped():
    names = {p.name for p in CONFIGS}
    assert {"quickstart.yaml", "rl_tiny.yaml", "rl_paper_7b.yaml", "sft_tiny.yaml"} <= names


def leaves(tree: dict, prefix: str = "") -> dict:
    """Dotted key -> value for every leaf of a YAML mapping (lists are leaves)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def lookup(config, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads_validates_and_keeps_every_value_it_sets(path):
    """Each shipped YAML validates, and every value it writes is the value the loaded config holds."""
    for cls, section, tree in configs_to_check(path):
        config = load_config(cls, path, section=section)
        assert isinstance(config, cls)
        check_values(config, tree, path)


def check_values(config, tree: dict, path: Path) -> None:
    import dataclasses

    for key, value in leaves(tree).items():
        held = lookup(config, key)
        if dataclasses.is_dataclass(held):   # a list of sections, e.g. eval models
            held = dataclasses.asdict(held)
        if isinstance(held, list):
            held = [dataclasses.asdict(h) if dataclasses.is_dataclass(h) else h for h in held]
            if value and isinstance(value[0], dict):
                held = [{k: h[k] for k in v} for h, v in zip(held, value)]
        assert held == value, f"{path.name}: {key} is {held!r} after loading, the file says {value!r}"


def test_pipeline_derives_paths_and_refuses_user_set_ones():
    from train.pipeline_config import PipelineConfig

    config = load_config(PipelineConfig, CONFIGS[0].parent / "quickstart.yaml", ["run_dir=/tmp/x", "rounds=2"])
    assert config.sft_config().data.path == "/tmp/x/synth/demos.jsonl"
    assert config.rl_config(1).model.policy == "/tmp/x/sft/model"
    assert config.rl_config(2).model.policy == "/tmp/x/distill1/model"
    assert config.sft_config(distill_round=1).data.path == "/tmp/x/distill1/demos.jsonl"
    assert [m.name for m in config.eval_config().models] == ["sft", "rl1", "rl2"]
    with pytest.raises(ConfigError, match="key 'rl.model.policy' is set by `satori run`"):
        load_config(PipelineConfig, CONFIGS[0].parent / "quickstart.yaml", ["rl.model.policy=elsewhere"])
    with pytest.raises(ConfigError, match="section rl: key 'rollout.samples_per_prompt'"):
        load_config(PipelineConfig, CONFIGS[0].parent / "quickstart.yaml",
                    ["rl.algo.advantage=grpo", "rl.rollout.samples_per_prompt=1"])


def test_paper_config_carries_the_published_hyper_parameters():
    from train.rl.config import RLConfig

    config = load_config(RLConfig, CONFIGS[0].parent / "rl_paper_7b.yaml")
    algo = config.algo
    assert (algo.advantage, algo.gamma, algo.gae_lambda, algo.clip_eps_low, algo.value_clip, algo.kl_coef) == \
        ("gae", 1.0, 0.95, 0.2, 0.2, 0.0)
    assert (algo.actor_lr, algo.critic_lr, config.rollout.temperature) == (2e-7, 5e-6, 0.6)
    assert (config.rollout.prompts_per_step, config.data.max_prompt_len, config.rollout.max_new_tokens) == \
        (1024, 1024, 3072)
    assert config.reward.bonus_scale == 0.5 and config.rollout.engine == "vllm"


def test_paper_round1_config_trains_on_the_official_data_and_evaluates_by_the_papers_protocol():
    from eval.config import EvalConfig
    from train.openrlhf.launch import check_supported
    from train.rl.config import RLConfig
    from train.sft.config import SFTConfig

    path = CONFIGS[0].parent / "paper_round1_7b.yaml"
    sft = load_config(SFTConfig, path, section="sft")
    assert (sft.data.format, sft.data.fields()[:2]) == ("satori-ft", ("query", "response"))
    rl = load_config(RLConfig, path, section="rl")
    assert (rl.data.train, rl.data.train_format) == ("Satori-reasoning/Satori_RL_data_with_RAE", "satori-rl")
    assert rl.model.policy == f"{sft.run_dir}/model" and rl.reward.bonus_scale == 0.5
    check_supported(rl, rl.resources)   # trains through OpenRLHF as it stands
    evaluation = load_config(EvalConfig, path, section="eval")
    assert (evaluation.protocol, evaluation.template, evaluation.sampling.max_new_tokens) == ("satori-paper", "chat", 4096)
    assert evaluation.models[-1].path == f"{rl.run_dir}/final"


def test_reward_model_configs_carry_their_settings():
    from train.rm.config import RMConfig

    big = load_config(RMConfig, CONFIGS[0].parent / "rm_7b.yaml")
    assert (big.data.temperature, big.data.max_new_tokens, big.data.max_length) == (0.6, 3072, 4096)   # the paper's rollouts
    assert (big.train.loss, big.optim.lr, big.train.batch_size, big.train.epochs) == ("bt", 9e-6, 128, 1.0)
    assert big.model.precision == "bf16-mixed" and big.backbone == "runs/satori-7b/sft/final"
    tiny = load_config(RMConfig, CONFIGS[0].parent / "rm_tiny.yaml")
    assert tiny.data.problems == "procedural:arith,fractions,linear:0,1" and tiny.data.samples == 8
