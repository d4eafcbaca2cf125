"""``satori synth CONFIG.yaml [key=value ...]``: synthesize COAT demonstrations.

Examples::

    satori synth configs/synth_procedural.yaml source.procedural.n=200 run_dir=runs/synth_small
    satori synth configs/synth_procedural.yaml --format satori-ft    # also writes RUN/satori_ft.jsonl
    OPENAI_API_KEY=... satori synth configs/synth_gsm8k_openai.yaml

Rerunning the same command after an interruption resumes: finished problems are skipped and
the final ``demos.jsonl`` equals that of an uninterrupted run (with scripted agents).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from data_synthesis.agents import LLMCritic, LLMGenerator, OutcomeRewardModel, Reward, ScriptedCritic, ScriptedGenerator
from data_synthesis.config import SynthConfig
from data_synthesis.pipeline import Synthesizer, run_synthesis
from data_synthesis.sources import load_source
from satori.config import ConfigError, format_config, read_yaml, save_config, to_dict
from satori.stage_cli import add_config_arguments, load_stage_config, reports_errors

HELP = "synthesize COAT demonstrations (stage one)"


FT_FILE = "satori_ft.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "synth", "source.procedural.n=100")
    parser.add_argument("--format", choices=("satori", "satori-ft"), default="satori",
                        help="satori-ft: also write the demonstrations in the official format-tuning format "
                             f"(query/response/type) as RUN_DIR/{FT_FILE}")


@reports_errors("synth", ValueError)
def run(args: argparse.Namespace) -> int:
    config = load_stage_config(SynthConfig, args, section="synth")
    print(format_config(config), flush=True)
    check_resume(config)
    save_config(config, Path(config.run_dir) / "config.yaml")
    stats = synthesize(config)
    print(format_stats(stats))
    if args.format == "satori-ft":
        print(f"wrote {write_satori_ft(Path(config.run_dir))}")
    return 0 if stats["demos"] > 0 else 1


def write_satori_ft(run_dir: Path) -> Path:
    """``run_dir/demos.jsonl`` rewritten as official format-tuning rows (``satori.formats.ft_row``, with ``id``)."""
    from satori.formats import ft_row
    from satori.io import atomic_write_jsonl, read_jsonl

    out = run_dir / FT_FILE
    atomic_write_jsonl(out, ({**ft_row(d["problem"], d["coat"], d["kind"], d["gold"]), "id": d["id"]}
                             for _, d in read_jsonl(run_dir / "demos.jsonl")))
    return out


# Settings that change no demonstration; a resumed run may differ in these.
RESUMABLE_CHANGES = ("progress", "chunk_size")


def check_resume(config: SynthConfig) -> None:
    """Refuse to resume into ``run_dir`` when it was started with settings that change the demos."""
    saved_path = Path(config.run_dir) / "config.yaml"
    if not saved_path.exists() or not (Path(config.run_dir) / "progress.jsonl").exists():
        return
    saved = {k: v for k, v in read_yaml(saved_path).items() if k not in RESUMABLE_CHANGES}
    current = {k: v for k, v in to_dict(config).items() if k not in RESUMABLE_CHANGES}
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
        raise ConfigError(f"{config.run_dir} holds a run started with other settings ({', '.join(changed)} "
                          "differ from its config.yaml); resume with the same settings or choose a new run_dir")


def synthesize(config: SynthConfig) -> dict[str, Any]:
    """Build the roles, load the problems and run; returns the stats."""
    from satori.grading import VerifierPool

    backends: dict[str, Any] = {}
    verifier = VerifierPool(workers=config.agents.verifier_workers, timeout=config.agents.verify_timeout,
                            warm_up=config.agents.verifier_warm_up)
    try:
        generator, critic = build_roles(config, backends)
        orm = OutcomeRewardModel(config.agents.orm) if config.agents.orm else None
        reward = Reward(verifier, orm)
        bad: list[str] = []
        problems = load_source(config.source, config.seed, verifier, bad)
        for message in bad:
            print(f"skipped bad row: {message}", file=sys.stderr)
        tokenizer = None
        if config.tokenizer:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
        synthesizer = Synthesizer(config, generator, critic, reward, prompt_tokenizer=tokenizer)
        stats = run_synthesis(config, problems, synthesizer, bad)
        stats["backend_usage_this_run"] = {name: b.usage.to_dict() for name, b in backends.items()}
        return stats
    finally:
        for backend in backends.values():
            backend.close()
        close = getattr(verifier, "close", None)
        if close is not None:
            close()


def build_roles(config: SynthConfig, backends: dict[str, Any]) -> tuple[Any, Any]:
    """Generator and critic as configured; backends are built once each and collected in ``backends``."""
    from data_synthesis.backends import make_backend

    agents = config.agents

    def backend(name: str) -> Any:
        if name not in backends:
            backends[name] = make_backend(name, agents.backends[name])
        return backends[name]

    if agents.generator == "scripted":
        generator = ScriptedGenerator(agents.mistake_rate, tuple(agents.mistake_kinds))
    else:
        generator = LLMGenerator(backend(agents.generator), agents.max_new_tokens, agents.temperature)
    critic = ScriptedCritic() if agents.critic == "scripted" else LLMCritic(backend(agents.critic))
    return generator, critic


def format_stats(stats: dict[str, Any]) -> str:
    lines = [f"problems {stats['problems']}  demos {stats['demos']}  "
             f"failed requests {stats['failed_requests']}  bad input rows {stats['bad_input_rows']}"]
    lines += [f"  kind {k:<22} {v}" for k, v in stats["kinds"].items()]
    lines += [f"  rejected {k:<18} {v}" for k, v in sorted(stats["rejections"].items())]
    lines += [f"  tokens {k:<20} {v}" for k, v in sorted(stats["tokens_per_backend"].items())]
    return "\n".join(lines)
