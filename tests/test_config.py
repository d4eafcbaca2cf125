from dataclasses import dataclass, field
from typing import Literal

import pytest

from satori.config import ConfigError, load_config, parse_override, require, save_config


@dataclass
class Optim:
    lr: float = 1e-5
    schedule: Literal["cosine", "linear"] = "cosine"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])


@dataclass
class Stage:
    name: str = "run"
    steps: int = 10
    resume: bool = False
    data: str | None = None
    optim: Optim = field(default_factory=Optim)

    def validate(self):
        require(self.steps > 0, "steps", f"must be positive, got {self.steps}")


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides(tmp_path):
    path = write(tmp_path, "steps: 5\noptim:\n  lr: 3.0e-4\n")
    cfg = load_config(Stage, path, ["optim.schedule=linear", "resume=true", "data=x.jsonl", "optim.betas=[0.8, 0.9]"])
    assert cfg.steps == 5 and cfg.optim.lr == 3e-4 and cfg.optim.schedule == "linear"
    assert cfg.resume is True and cfg.data == "x.jsonl" and cfg.optim.betas == [0.8, 0.9]


def test_section_of_pipeline_yaml(tmp_path):
    path = write(tmp_path, "seed: 1\nsft:\n  steps: 7\n")
    assert load_config(Stage, path, section="sft").steps == 7
    assert load_config(Stage, path, ["sft.steps=9"], section="sft").steps == 9


@pytest.mark.parametrize("text, overrides, message", [
    ("stpes: 3\n", [], "unknown key 'stpes'; did you mean 'steps'?"),
    ("optim:\n  lrr: 1\n", [], "unknown key 'optim.lrr'; did you mean 'optim.lr'?"),
    ("steps: three\n", [], "key 'steps' must be an integer"),
    ("", ["optim.schedule=step"], "key 'optim.schedule' = 'step'; choose one of 'cosine', 'linear'"),
    ("", ["resume=maybe"], "key 'resume' must be true or false"),
    ("", ["steps=0"], "key 'steps': must be positive"),
    ("", ["steps"], "must look like key=value"),
    ("- a\n- b\n", [], "top level must be a mapping"),
])
def test_errors_name_the_key(tmp_path, text, overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(Stage, write(tmp_path, text), overrides)
    assert message in str(info.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Stage, "/nonexistent/c.yaml")


def test_save_and_reload(tmp_path):
    cfg = load_config(Stage, None, ["steps=3", "optim.lr=0.5"])
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(Stage, tmp_path / "resolved.yaml") == cfg


def test_parse_override_types():
    assert parse_override("a.b=1e-6") == ("a.b", 1e-6)
    assert parse_override("x=null") == ("x", None)
    assert parse_override("x=a=b") == ("x", "a=b")
