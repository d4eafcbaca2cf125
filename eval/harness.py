"""Run checkpoints on benchmarks: prompt, generate, grade, and append one row per sample.

Output layout under ``config.run_dir``::

    <model>/samples.jsonl   one row per (benchmark, problem id, sample index), appended as graded
    <model>/settings.json   sampling and prompt settings the samples were made with
    <model>/model/          plain float copy of a GGUF checkpoint (only for the vLLM engine)
    summary.json, table.md, chart.png   all checkpoints side by side (see ``eval.report``)
    samples.html                        every sample, readable in a browser (``satori view``)

Resuming: rows are keyed by ``[benchmark, problem_id, sample]``; a rerun generates only the
problems with missing rows (the engine is not even built when none are missing). Rerunning
into the same folder with different sampling or prompt settings is refused rather than mixing
samples from two protocols. Rows are written per batch of problems after grading, so an
interruption loses at most the batch in flight.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from satori.coat import REFLECT, before_first, count_actions
from satori.config import ConfigError, save_config
from satori.grading import extract_answer
from satori.io import JsonlAppender, atomic_write_json, read_jsonl
from satori.problems import Problem
from satori.prompts import build_prompt

from eval.benchmarks import load_benchmark
from eval.config import EvalConfig, ModelSpec
from eval.protocol import PROTOCOLS, graded_text


@dataclass
class PendingProblem:
    """A problem with samples still to make, and its prompt."""

    benchmark: str
    problem: Problem
    prompt: str
    prompt_ids: list[int]
    missing: list[int]      # sample indices without a row


def sample_key(benchmark: str, problem_id: str, sample: int) -> str:
    """The resume key of one sample row."""
    return json.dumps([benchmark, problem_id, sample])


def load_benchmarks(config: EvalConfig) -> dict[str, list[Problem]]:
    """Every configured benchmark's problems (first ``config.limit`` of each)."""
    sets = {}
    for name in config.benchmarks:
        custom = config.custom.get(name)
        sets[name] = load_benchmark(
            name, path=config.files.get(name) or (custom.path if custom else None), data_dir=config.data_dir,
            columns=custom.columns if custom else None, split=custom.split if custom else None,
            subset=custom.subset if custom else None, limit=config.limit, seed=config.seed)
    return sets


def evaluate_model(spec: ModelSpec, config: EvalConfig, benchmarks: dict[str, list[Problem]],
                   grader: Any) -> Path:
    """Make and grade every missing sample of ``spec`` on ``benchmarks``; returns its samples file."""
    folder = Path(config.run_dir) / spec.label
    samples_path = folder / "samples.jsonl"
    n = config.sampling.n
    with JsonlAppender(samples_path, key="key") as appender:
        todo = {name: [p for p in problems if _missing(appender.done_keys, name, p, n)]
                for name, problems in benchmarks.items()}
        if not any(todo.values()):
            return samples_path
        tokenizer, build_engine = open_model(spec, config, folder)
        template = spec.template or config.template
        pending = [make_pending(name, p, tokenizer, template, _missing(appender.done_keys, name, p, n))
                   for name, problems in todo.items() for p in problems]
        longest = max(len(p.prompt_ids) for p in pending)
        engine = build_engine(longest + config.sampling.max_new_tokens)
        try:
            for batch in _batches(pending, config, spec.label):
                for row in generate_and_grade(engine, batch, config, grader, spec.label):
                    appender.write(row)
                appender.sync()
        finally:
            engine.close()
    return samples_path


def make_pending(benchmark: str, problem: Problem, tokenizer: Any, template: str,
                 missing: list[int]) -> PendingProblem:
    """``problem`` with its prompt under ``template`` (text and token ids)."""
    prompt = build_prompt(problem.question, template, tokenizer)
    return PendingProblem(benchmark, problem, prompt, tokenizer.encode(prompt, add_special_tokens=False), missing)


def _missing(done: set, benchmark: str, problem: Problem, n: int) -> list[int]:
    return [i for i in range(n) if sample_key(benchmark, problem.id, i) not in done]


def _batches(pending: list[PendingProblem], config: EvalConfig, label: str) -> Iterator[list[PendingProblem]]:
    """``pending`` in chunks of ``config.batch_size``, with a progress bar per model."""
    from tqdm.auto import tqdm

    with tqdm(total=len(pending), desc=f"eval {label}", unit="problem", disable=not config.progress) as bar:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start: start + config.batch_size]
            yield batch
            bar.update(len(batch))


def generate_and_grade(engine: Any, batch: list[PendingProblem], config: EvalConfig, grader: Any,
                       label: str) -> list[dict[str, Any]]:
    """Rows for the missing samples of ``batch``: completion, answer, verdict, COAT statistics.

    For completions that reflect, the text before the first ``<|reflect|>`` is graded too
    (``before_reflect``), for the self-correction counts; when it holds no answer
    (``extract_answer`` finds none) it is recorded as status ``no_answer``, not correct.
    """
    outputs = engine.generate([p.prompt_ids for p in batch], config.sampling_params())
    samples = [(p, i, outputs[b][i]) for b, p in enumerate(batch) for i in p.missing]
    prefixes = [before_first(completion.text, REFLECT) for _, _, completion in samples]
    answered = [prefix is not None and extract_answer(prefix) is not None for prefix in prefixes]
    pairs = [(graded_text(c.text, config.protocol), p.problem.gold) for p, _, c in samples]
    pairs += [(graded_text(prefix, config.protocol), p.problem.gold)
              for (p, _, _), prefix, ok in zip(samples, prefixes, answered) if ok]
    verdicts = iter(grader.verify_batch(pairs))
    finals = [next(verdicts) for _ in samples]
    rows = []
    for (p, index, completion), prefix, ok, verdict in zip(samples, prefixes, answered, finals):
        before = None
        if prefix is not None:
            graded = next(verdicts) if ok else None
            before = {"extracted": graded.extracted, "correct": bool(graded.correct), "status": graded.status} \
                if graded else {"extracted": None, "correct": False, "status": "no_answer"}
        rows.append({
            "key": sample_key(p.benchmark, p.problem.id, index), "model": label, "benchmark": p.benchmark,
            "problem_id": p.problem.id, "sample": index, "prompt": p.prompt, "completion": completion.text,
            "extracted": verdict.extracted, "rule": verdict.rule, "gold": p.problem.gold, "correct": bool(verdict.correct),
            "status": verdict.status, "tokens": len(completion.token_ids),
            "finish_reason": completion.finish_reason, "actions": count_actions(completion.text),
            "before_reflect": before,
            "meta": p.problem.meta,
        })
    return rows


def open_model(spec: ModelSpec, config: EvalConfig, folder: Path
               ) -> tuple[Any, Callable[[int], Any]]:
    """``(tokenizer, build_engine(max_len))`` for ``spec`` on the configured engine.

    The HF engine serves the loaded model object (GGUF dequantised to float). vLLM needs a
    checkpoint folder, so a GGUF source is first saved as a plain float copy under
    ``folder/model`` (reused on reruns).
    """
    from satori.models import load_model_and_tokenizer, resolve_source

    if config.engine == "hf":
        from satori.engines.hf import HFEngine

        model, tokenizer, _ = load_model_and_tokenizer(spec.path, gguf_file=spec.gguf_file, device=config.device,
                                                       add_actions=False)
        batch = config.batch_size * config.sampling.n
        return tokenizer, lambda max_len: HFEngine(model, tokenizer, max_batch_size=batch)

    from transformers import AutoTokenizer

    from satori.engines.vllm_engine import VLLMEngine

    source, gguf = resolve_source(spec.path, spec.gguf_file)
    if gguf:
        source = str(folder / "model")
        if not (Path(source) / "config.json").is_file():
            model, tokenizer, _ = load_model_and_tokenizer(spec.path, gguf_file=spec.gguf_file, add_actions=False)
            tokenizer.save_pretrained(source)
            model.save_pretrained(source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    v = config.vllm
    return tokenizer, lambda max_len: VLLMEngine(
        source, tokenizer, dtype=v.dtype, max_model_len=v.max_model_len or max_len, kv_cache_gib=v.kv_cache_gib,
        gpu_memory_utilization=v.gpu_memory_utilization,
        enforce_eager=v.enforce_eager, seed=config.seed)


def run_settings(spec: ModelSpec, config: EvalConfig) -> dict[str, Any]:
    """What the samples depend on besides the problems: checkpoint, prompt, decoding."""
    return {"model": spec.path, "gguf_file": spec.gguf_file, "template": spec.template or config.template,
            "sampling": sampling_record(config), **({"protocol": config.protocol} if config.protocol else {})}


def sampling_record(config: EvalConfig) -> dict[str, Any]:
    """The decoding settings as recorded with the samples: ``sampling`` and the run's ``seed``."""
    return {**asdict(config.sampling), "seed": config.seed}


def check_settings(folder: Path, settings: dict[str, Any]) -> None:
    """Record ``settings`` in ``folder``; refuse to mix with samples made under other settings."""
    path = folder / "settings.json"
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise ConfigError(f"{path}: samples there were made with different {', '.join(changed)} "
                              f"({previous}); choose another run_dir (--out) or remove {folder}")
        return
    atomic_write_json(path, settings)


def read_samples(path: Path) -> list[dict[str, Any]]:
    """All sample rows of one model's ``samples.jsonl``."""
    return [row for _, row in read_jsonl(path)] if path.is_file() else []


def run_eval(config: EvalConfig) -> dict[str, dict[str, dict[str, Any]]]:
    """Evaluate every checkpoint, then write ``summary.json``, ``table.md`` and ``chart.png``.

    Each checkpoint's settings are checked against earlier samples in its folder before
    anything runs; the resolved config is saved as ``config.yaml``.

    Returns ``{model: {benchmark: summary}}``.
    """
    from satori.grading import VerifierPool

    from eval.benchmarks import group_keys
    from eval.report import write_reports
    from eval.summary import distinct_answer_pairs, summarize_benchmark

    benchmarks = load_benchmarks(config)
    out = Path(config.run_dir)
    for spec in config.models:
        check_settings(out / spec.label, run_settings(spec, config))
    save_config(config, out / "config.yaml")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with VerifierPool(workers=config.verifier_workers, timeout=config.verify_timeout) as grader:
        for spec in config.models:
            rows = read_samples(evaluate_model(spec, config, benchmarks, grader))
            same = _equivalence(grader, distinct_answer_pairs(rows)) if max(config.ks) > 1 else None
            results[spec.label] = {
                name: summarize_benchmark(
                    [r for r in rows if r["benchmark"] == name], problems, config.sampling.n, config.ks,
                    group_by=group_keys(name), same=same)
                for name, problems in benchmarks.items()}
            if config.rerank:
                from eval.rerank import rerank_summary, score_rows

                scores = score_rows(config.rerank, rows)
                for name, problems in benchmarks.items():
                    results[spec.label][name].update(rerank_summary(
                        [r for r in rows if r["benchmark"] == name], problems, config.sampling.n, scores, same))
    protocol = PROTOCOLS[config.protocol].record(config.protocol) if config.protocol else None
    atomic_write_json(out / "summary.json", {"models": {m.label: m.path for m in config.models},
                                             "settings": sampling_record(config), "protocol": protocol,
                                             "results": results})
    samples = [out / spec.label / "samples.jsonl" for spec in config.models]
    write_reports(results, out, samples=[path for path in samples if path.is_file() and path.stat().st_size])
    return results


def _equivalence(grader: Any, pairs: set[tuple[str, str]]) -> Callable[[str, str], bool]:
    """``same(earlier, later)`` for maj@k: the verifier accepts ``later`` against ``earlier``."""
    ordered = sorted(pairs)
    verdicts = grader.verify_batch([(f"\\boxed{{{later}}}", earlier) for earlier, later in ordered])
    equivalent = {pair for pair, verdict in zip(ordered, verdicts) if verdict.correct}
    return lambda earlier, later: (earlier, later) in equivalent
