"""One run-level vocabulary (``satori/run_config.py``): the same keys at the top level of every stage,
old spellings refused with the new key named, no stage keeping a copy under another name or in a
sub-section, and unique class names."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from satori.config import ConfigError, load_config, renamed_keys
from satori.run_config import SHARED_KEYS, RunConfig, TrainingRunConfig, WallClock, due, finished

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# Every spelling the run-level keys (and the verifier's time limit) had before they were shared.
OLD_NAMES = {"output_dir", "out", "total_steps", "every", "keep_last", "keep", "verifier_timeout"}


def stage_classes() -> dict[str, type]:
    from data_synthesis.config import SynthConfig
    from eval.config import EvalConfig
    from train.pipeline_config import PipelineConfig
    from train.pretrain import PretrainConfig
    from train.rl.config import RLConfig
    from train.rm.config import RMConfig
    from train.sft.config import SFTConfig
    from train.teach.config import TeachConfig

    return {"synth": SynthConfig, "pretrain": PretrainConfig, "sft": SFTConfig, "rl": RLConfig,
            "teach": TeachConfig, "rm": RMConfig, "eval": EvalConfig, "run": PipelineConfig}


TRAINING = ("pretrain", "sft", "rl", "teach", "rm")
# What each stage needs besides defaults to validate.
NEEDS = {"sft": ["data.path=demos.jsonl"], "eval": ["models=[{path: x}]"]}


def load(stage: str, overrides: list[str], path: Path | None = None):
    return load_config(stage_classes()[stage], path, [*NEEDS.get(stage, []), *overrides])


# ------------------------------------------------------------------ one block, inherited
@pytest.mark.parametrize("stage", list(stage_classes()))
def test_every_stage_inherits_the_run_keys_with_their_type(stage):
    cls = stage_classes()[stage]
    base = TrainingRunConfig if stage in TRAINING else RunConfig
    assert issubclass(cls, base)
    hints, base_hints = typing.get_type_hints(cls), typing.get_type_hints(base)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in (f.name for f in dataclasses.fields(base)):
        assert hints[key] == base_hints[key], \
            f"{stage} redeclares {key} as {hints[key]} (a default may differ, not the type)"
    assert names[: len(dataclasses.fields(base))] == [f.name for f in dataclasses.fields(base)]
    if stage not in TRAINING:
        assert not set(names) & (set(SHARED_KEYS) - {"run_dir", "seed"})


@pytest.mark.parametrize("stage", list(stage_classes()))
def test_shared_checks_hold_in_every_stage(stage):
    """The shared validate() runs for every stage, although each stage has its own validate()."""
    with pytest.raises(ConfigError, match="key 'run_dir'"):
        load(stage, ["run_dir=' '"])
    if stage in TRAINING:
        for key, value in (("keep_checkpoints", -1), ("checkpoint_every", -1), ("eval_every", -1), ("threads", 0),
                           ("max_steps", 0), ("max_seconds", 0)):
            with pytest.raises(ConfigError, match=f"key '{key}'"):
                load(stage, [f"{key}={value}"])


def test_due_means_every_n_steps_and_after_the_last():
    assert [s for s in range(1, 11) if due(s, 4, s == 10)] == [4, 8, 10]
    assert [s for s in range(1, 11) if due(s, 0, s == 10)] == [10]


def test_a_wall_clock_stops_before_the_step_that_would_end_past_the_budget():
    """The next step is predicted to last this process's mean step; the earlier processes' seconds count."""
    clock = WallClock(max_seconds=10.0, spent_before=8.5)
    assert 8.5 <= clock.spent() < 9.0 and not clock.out_of_time()
    clock.step_seconds = [0.5, 1.5]          # mean 1.0: 8.5 + 1 still ends inside the budget
    assert not clock.out_of_time()
    clock.step_seconds.append(3.0)           # mean 1.67: the next step would end past 10 s
    assert clock.out_of_time()
    assert WallClock(max_seconds=10.0, spent_before=10.5).out_of_time()    # spent before any step
    unlimited = WallClock(max_seconds=None, spent_before=1e9)
    unlimited.step_seconds = [1e9]
    assert not unlimited.out_of_time()
    spent = WallClock(max_seconds=10.0, spent_before=10.5)
    assert finished(3, None, spent) and finished(3, 3, unlimited) and not finished(2, 3, unlimited)
    with pytest.raises(ConfigError, match=r"key 'max_seconds'.*before the first step"):
        finished(0, 100, spent)
    timed = WallClock(max_seconds=None)
    with timed.step():
        pass
    assert len(timed.step_seconds) == 1 and 0 <= timed.step_seconds[0] < 1


# ------------------------------------------------------------------ old keys refused
RENAMES = [
    ("rl", "total_steps", 3, "max_steps"),
    ("teach", "total_steps", 3, "max_steps"),
    ("sft", "train.max_steps", 3, "max_steps"),
    ("sft", "train.seed", 1, "seed"),
    ("sft", "train.threads", 1, "threads"),
    ("sft", "eval.every", 5, "eval_every"),
    ("sft", "checkpoint.every", 5, "checkpoint_every"),
    ("sft", "checkpoint.keep_last", 1, "keep_checkpoints"),
    ("sft", "model.tiny.seed", 1, "seed"),
    ("pretrain", "train.max_steps", 3, "max_steps"),
    ("pretrain", "checkpoint.every", 5, "checkpoint_every"),
    ("pretrain", "corpus.seed", 1, "seed"),
    ("teach", "model.tiny.seed", 1, "seed"),
    ("synth", "output_dir", "runs/x", "run_dir"),
    ("synth", "agents.verifier_timeout", 3.0, "agents.verify_timeout"),
    ("eval", "out", "runs/x", "run_dir"),
    ("eval", "verifier_timeout", 3.0, "verify_timeout"),
    ("eval", "sampling.seed", 1, "seed"),
]


def nested(dotted: str, value) -> dict:
    tree: dict = {}
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return tree


@pytest.mark.parametrize("stage, old, value, new", RENAMES, ids=lambda v: str(v))
def test_old_keys_are_refused_in_files_and_overrides_with_the_new_key_named(tmp_path, stage, old, value, new):
    message = f"key '{old}' was renamed: use {new}"
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(stage, [f"{old}={value}"])
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(nested(old, value)))
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load(stage, [], path)
    assert str(path) in str(info.value)
    assert renamed_keys(stage_classes()[stage])[old] == new


def test_old_keys_in_a_pipeline_section_are_refused_too(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("sft:\n  train: {batch_size: 4, max_steps: 3}\n")
    with pytest.raises(ConfigError, match=r"key 'sft\.train\.max_steps' was renamed: use sft\.max_steps"):
        load("run", [], path)
    with pytest.raises(ConfigError, match=r"key 'rl\.total_steps' was renamed: use rl\.max_steps"):
        load("run", ["rl.total_steps=3"])
    # a key the pipeline derives is refused as such, in its old spelling too
    with pytest.raises(ConfigError, match=r"key 'synth\.output_dir' is set by `satori run`"):
        load("run", ["synth.output_dir=x"])
    with pytest.raises(ConfigError, match=r"key 'sft\.train\.seed' is set by `satori run`"):
        load("run", ["sft.train.seed=3"])


def test_the_checkpoint_section_is_gone_with_a_pointer():
    with pytest.raises(ConfigError, match="key 'checkpoint' was replaced: use the top-level checkpoint_every"):
        load("sft", ["checkpoint={}"])


def test_eval_out_flag_sets_run_dir():
    import argparse

    from eval.cli import add_arguments, flag_overrides

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--model", "m=x", "--out", "runs/here"])
    assert "run_dir=\"runs/here\"" in flag_overrides(args)
    assert load("eval", flag_overrides(args)).run_dir == "runs/here"


# ------------------------------------------------------------------ every shipped config
def walk(node, path: str = ""):
    """(dotted field path, field name) of every dataclass field below ``node``, through lists and dicts."""
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            yield f"{path}{f.name}", f.name
            yield from walk(getattr(node, f.name), f"{path}{f.name}.")
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from walk(item, f"{path[:-1]}[{i}].")
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from walk(item, f"{path}{key}.")


def loaded_stages(path: Path) -> list[tuple[str, object]]:
    """The shipped file's config, and for a pipeline file each stage section as that stage loads it."""
    from train.pipeline_config import PipelineConfig

    classes = stage_classes()
    if path.name.startswith("paper_"):   # stage sections, each run by its own command (not `satori run`)
        return [(f"{path.name}:{section}", load_config(classes[section], path, section=section))
                for section in yaml.safe_load(path.read_text())]
    stage = next((name for name in classes if path.name.startswith(name + "_")), "run")
    config = load_config(classes[stage], path)
    if not isinstance(config, PipelineConfig):
        return [(path.name, config)]
    stages = [(f"{path.name}:synth", config.synth_config()), (f"{path.name}:sft", config.sft_config()),
              (f"{path.name}:eval", config.eval_config())]
    stages += [(f"{path.name}:rl{r}", config.rl_config(r)) for r in range(1, config.rounds + 1)]
    stages += [(f"{path.name}:distill{r}", config.sft_config(distill_round=r)) for r in range(1, config.rounds)]
    return [(path.name, config), *stages]


def test_every_stage_section_of_the_shipped_configs_is_checked():
    names = [name for path in CONFIGS for name, _ in loaded_stages(path)]
    assert {"quickstart.yaml:synth", "quickstart.yaml:sft", "quickstart.yaml:rl1", "quickstart.yaml:eval",
            "teach_tiny.yaml", "pretrain_tiny.yaml", "eval_math.yaml", "synth_procedural.yaml",
            "paper_round1_7b.yaml:sft", "paper_round1_7b.yaml:rl", "paper_round1_7b.yaml:eval"} <= set(names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_no_stage_keeps_a_run_key_below_the_top_level_or_under_an_old_name(path):
    for name, config in loaded_stages(path):
        for dotted, field_name in walk(config):
            top = "." not in dotted and "[" not in dotted
            assert field_name not in OLD_NAMES, f"{name}: {dotted} is an old spelling of a shared key"
            assert top or field_name not in SHARED_KEYS, \
                f"{name}: {dotted} copies the run-level key {field_name!r} inside a section; use the top-level one"
            assert not ("verif" in field_name and "timeout" in field_name) or field_name == "verify_timeout", \
                f"{name}: {dotted}: the verifier's time limit is spelled verify_timeout"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_files_write_no_old_key(path):
    def keys(tree, prefix=""):
        for key, value in tree.items():
            yield f"{prefix}{key}"
            if isinstance(value, dict):
                yield from keys(value, f"{prefix}{key}.")

    written = set(keys(yaml.safe_load(path.read_text())))
    old = {key for cls in stage_classes().values() for key in renamed_keys(cls)}
    sections = {"", "synth.", "sft.", "rl.", "eval."}
    assert not {s + k for s in sections for k in old} & written


# ------------------------------------------------------------------ teach -> PPO engine
def test_teach_rl_config_carries_every_key_the_two_configs_share():
    from train.rl.config import RLConfig
    from train.teach.config import TeachConfig

    teach = load("teach", ["run_dir=runs/t", "seed=7", "max_steps=11", "eval_every=3", "checkpoint_every=4",
                           "keep_checkpoints=5", "resume=false", "threads=3", "model.precision=bf16-mixed",
                           "model.gradient_checkpointing=true", "data.train_size=123", "data.eval_size=9",
                           "data.difficulty=2", "data.max_prompt_len=77", "reward.verify_timeout=2.5",
                           "reward.workers=2", "reward.processes_per_worker=3", "ray.learners=1", "ray.num_cpus=2"])
    rl = teach.rl_config("teacher/folder")
    assert isinstance(rl, RLConfig) and rl.model.policy == "teacher/folder" and not rl.rae.enabled
    assert rl.rollout is teach.rollout and rl.algo is teach.algo and rl.ray is teach.ray
    shared = 0
    for f in dataclasses.fields(TeachConfig):
        if not hasattr(rl, f.name):
            continue
        mine, theirs = getattr(teach, f.name), getattr(rl, f.name)
        if dataclasses.is_dataclass(mine):
            for sub in dataclasses.fields(mine):
                if hasattr(theirs, sub.name):
                    assert getattr(theirs, sub.name) == getattr(mine, sub.name), f"{f.name}.{sub.name}"
                    shared += 1
        else:
            assert theirs == mine, f.name
            shared += 1
    assert shared >= 30


# ------------------------------------------------------------------ unique names
def test_class_names_are_unique_across_the_packages():
    seen: dict[str, str] = {}
    for package in ("satori", "train", "eval", "data_synthesis"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    where = str(path.relative_to(ROOT))
                    assert node.name not in seen, f"class {node.name} in {where} and {seen[node.name]}"
                    seen[node.name] = where
