"""The whole Satori recipe from one config.

    satori run configs/quickstart.yaml [key=value ...]

synthesize COAT demonstrations -> format-tune (SFT) -> PPO with restart-and-explore ->
[distil the RL policy into the base model by SFT on its verified trajectories -> PPO again]
x (rounds - 1) -> evaluate the SFT and RL checkpoints side by side -> ``report.md``.

Each stage records ``stages/NAME.json`` when it finishes and is skipped on a rerun; a stage
interrupted part-way resumes from its own checkpoints. Each stage can also run alone with its
subcommand on the same file (``satori sft configs/quickstart.yaml`` reads the ``sft:`` section),
but then it uses the section as written, without the paths this pipeline derives.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from satori import coat
from satori.config import save_config
from satori.io import atomic_write_json, atomic_write_jsonl
from train.pipeline_config import PipelineConfig
from train.report import write_report

DISTILL_KIND = "rl_distill"


def run_stage(config: PipelineConfig, name: str, work: Callable[[], Any], inputs: Any = None) -> dict[str, Any]:
    """Run ``work`` unless ``stages/NAME.json`` says it already finished with the same ``inputs``."""
    marker = config.root / "stages" / f"{name}.json"
    if marker.is_file():
        record = json.loads(marker.read_text())
        if record.get("inputs") == _jsonable(inputs):
            print(f"[satori run] {name}: already done, skipping")
            return record
    print(f"[satori run] {name}: starting")
    start = time.time()
    result = work()
    record = {"stage": name, "seconds": time.time() - start, "inputs": _jsonable(inputs), "result": _jsonable(result)}
    atomic_write_json(marker, record)
    print(f"[satori run] {name}: done in {record['seconds']:.0f} s")
    return record


def run_pipeline(config: PipelineConfig) -> Path:
    """Run every stage in order (skipping finished ones); returns the report's path."""
    from data_synthesis.cli import synthesize
    from eval.harness import run_eval
    from train.rl.driver import run as run_ppo
    from train.sft.trainer import run_sft

    config.root.mkdir(parents=True, exist_ok=True)
    save_config(config, config.root / "pipeline.yaml")
    records = [run_stage(config, "synth", lambda: synthesize(config.synth_config())),
               run_stage(config, "sft", lambda: run_sft(config.sft_config()))]
    for round_index in range(1, config.rounds + 1):
        if round_index > 1:
            previous = round_index - 1
            records.append(run_stage(config, f"distill{previous}_collect",
                                     lambda: collect_rl_trajectories(config, previous)))
            records.append(run_stage(config, f"distill{previous}_sft",
                                     lambda: run_sft(config.sft_config(distill_round=previous))))
        records.append(run_stage(config, f"rl{round_index}", lambda: run_ppo(config.rl_config(round_index))))
    evaluation = config.eval_config()
    records.append(run_stage(config, "eval", lambda: run_eval(evaluation),
                             inputs=[model.label for model in evaluation.models]))
    return write_report(config, records)


def collect_rl_trajectories(config: PipelineConfig, round_index: int) -> dict[str, Any]:
    """Sample round ``round_index``'s RL policy on training problems; keep verified, valid COAT."""
    from satori.engines.base import SamplingParams
    from satori.engines.hf import HFEngine
    from satori.grading import VerifierPool
    from satori.prompts import build_prompt, encode_prompt
    from train.rl.problem_sets import load_problem_set

    rl = config.rl_config(round_index)
    distill = config.distill
    problems = load_problem_set(rl.data.train, distill.problems, "train", config.seed + round_index,
                                rl.data.difficulty)
    engine = HFEngine(str(config.rl_dir(round_index) / "final"), max_batch_size=distill.batch_size)
    params = SamplingParams(max_new_tokens=distill.max_new_tokens, temperature=distill.temperature,
                            n=distill.samples_per_problem, seed=config.seed, logprobs=False)
    groups = engine.generate([encode_prompt(p.question, engine.tokenizer, rl.data.template) for p in problems],
                             params)
    with VerifierPool(workers=rl.reward.processes_per_worker, timeout=rl.reward.verify_timeout) as grader:
        verdicts = grader.verify_batch([(c.text, p.gold) for p, g in zip(problems, groups) for c in g])
    rows, seen = [], set()
    flat = [(p, c) for p, g in zip(problems, groups) for c in g]
    for (problem, completion), verdict in zip(flat, verdicts):
        text = completion.text
        if not verdict.correct or not coat.is_valid(text, require_answer=True) or (problem.id, text) in seen:
            continue
        seen.add((problem.id, text))
        rows.append({"id": f"{problem.id}-{len(rows)}", "source": f"rl{round_index}", "problem": problem.question,
                     "gold": problem.gold, "kind": DISTILL_KIND, "coat": text, "template": rl.data.template,
                     "prompt": build_prompt(problem.question, rl.data.template, engine.tokenizer)})
    if not rows:
        raise RuntimeError(f"round {round_index}'s RL policy produced no verified valid-COAT trajectory on "
                           f"{len(problems)} problems; raise distill.samples_per_problem or distill.problems")
    atomic_write_jsonl(config.demos_path(round_index), rows)
    return {"problems": len(problems), "samples": len(flat), "kept": len(rows)}


def _jsonable(value: Any) -> Any:
    """Stage results as JSON data (floats, dicts, lists, strings)."""
    return json.loads(json.dumps(value, default=str))
