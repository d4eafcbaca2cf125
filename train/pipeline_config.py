"""`PipelineConfig`: one YAML for the whole recipe, one section per stage.

The sections hold each stage's own settings; the pipeline fills in the keys that chain the
stages: each stage's ``run_dir`` (a folder under the pipeline's ``run_dir``), the demonstrations
file, the checkpoint each stage starts from, and ``seed`` (the pipeline's, for synth, sft and rl;
eval keeps its own so every run seed is measured on the same problems). A section that sets one
of those keys itself is refused, so a setting is never silently rewritten. The run-level keys are
spelled as in every stage (:mod:`satori.run_config`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satori.config import ConfigError, from_dict, get_dotted, renamed_keys, require, set_dotted, validate_tree
from satori.run_config import RunConfig


@dataclass
class DistillConfig:
    """Between RL rounds: sample the RL policy, keep verified valid-COAT trajectories, SFT the base on them."""

    problems: int = 2000
    samples_per_problem: int = 4
    temperature: float = 0.7
    max_new_tokens: int = 256
    batch_size: int = 64

    def validate(self) -> None:
        require(self.problems >= 1 and self.samples_per_problem >= 1, "distill.problems",
                "problems and samples_per_problem must be >= 1")
        require(self.temperature > 0, "distill.temperature", "must be > 0 (several distinct samples are wanted)")


@dataclass
class PipelineConfig(RunConfig):
    run_dir: str = "runs/quickstart"
    rounds: int = 1
    synth: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def validate(self) -> None:
        require(self.rounds >= 1, "rounds", "must be >= 1")
        for round_index in range(1, self.rounds + 1):
            self.rl_config(round_index)
            if round_index > 1:
                self.sft_config(distill_round=round_index - 1)
        self.synth_config()
        self.sft_config()
        self.eval_config()

    # ------------------------------------------------------------------ stage configs
    @property
    def root(self) -> Path:
        return Path(self.run_dir)

    def synth_config(self) -> Any:
        from data_synthesis.config import SynthConfig

        return self._stage(SynthConfig, "synth", {"run_dir": str(self.root / "synth"), "seed": self.seed})

    def demos_path(self, distill_round: int | None = None) -> Path:
        return (self.root / f"distill{distill_round}" / "demos.jsonl" if distill_round
                else self.root / "synth" / "demos.jsonl")

    def sft_dir(self, distill_round: int | None = None) -> Path:
        return self.root / (f"distill{distill_round}" if distill_round else "sft")

    def sft_config(self, distill_round: int | None = None) -> Any:
        from train.sft.config import SFTConfig

        return self._stage(SFTConfig, "sft", {"run_dir": str(self.sft_dir(distill_round)),
                                              "data.path": str(self.demos_path(distill_round)),
                                              "seed": self.seed})

    def rl_dir(self, round_index: int) -> Path:
        return self.root / f"rl{round_index}"

    def rl_config(self, round_index: int) -> Any:
        from train.rl.config import RLConfig

        start = self.sft_dir(round_index - 1 if round_index > 1 else None) / "model"
        return self._stage(RLConfig, "rl", {"run_dir": str(self.rl_dir(round_index)),
                                            "model.policy": str(start), "seed": self.seed})

    def eval_config(self) -> Any:
        from eval.config import EvalConfig

        models = [{"name": "sft", "path": str(self.sft_dir() / "model")}]
        models += [{"name": f"rl{r}", "path": str(self.rl_dir(r) / "final")} for r in range(1, self.rounds + 1)]
        return self._stage(EvalConfig, "eval", {"run_dir": str(self.root / "eval"), "models": models})

    def _stage(self, cls: type, section: str, derived: dict[str, Any]) -> Any:
        raw = copy.deepcopy(getattr(self, section))
        old_keys = {old: new for old, new in renamed_keys(cls).items() if new in derived}
        for key, value in [*derived.items(), *((old, derived[new]) for old, new in old_keys.items())]:
            if get_dotted(raw, key, None) is not None:
                raise ConfigError(f"key '{section}.{key}' is set by `satori run` (to {value!r}); "
                                  f"remove it from the {section} section")
        for key, value in derived.items():
            set_dotted(raw, key, value)
        config = from_dict(cls, raw, prefix=f"{section}.", source="pipeline")
        try:
            validate_tree(config)
        except ConfigError as exc:
            raise ConfigError(f"section {section}: {exc}") from None
        return config


