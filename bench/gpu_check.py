"""Does the real-model path work on one CUDA GPU? Pass/fail for each thing a CPU run cannot show.

    bash bench/gpu_check.sh                 # one CUDA GPU, about 10 minutes
    bash bench/gpu_check.sh --dry-run       # anywhere: the same steps on CPU at a smaller scale

Runs ``satori run configs/real_smollm2.yaml`` (SmolLM2-135M: synthesis, format tuning, PPO with a vLLM
rollout engine, GSM8K evaluation) on the GPU in ``bf16-mixed``, the engine colocated with the learner
(vLLM sleep mode: it sleeps while the learner trains and wakes with the new weights), sampling the
GPU's used memory every half second. Then it checks:

- ``sft loss falls``: the mean SFT train loss of the last steps is below that of the first steps;
- ``rl weights change``: the RL policy's weights differ from the SFT checkpoint's;
- ``greedy rollouts match after sync``: a vLLM engine built from the SFT checkpoint, put to sleep,
  woken and given the RL policy's weights, decodes greedily what transformers decodes from the RL
  checkpoint (same tokens on at least 90% of prompts in bf16; all of them in float32);
- ``sleep frees memory`` (CUDA only): sleeping the engine gives back at least half of what it held;
- ``memory peak``: the GPU's peak used memory (or the CPU process tree's PSS) stays under the device.

``--dry-run`` runs the same steps with CPU overrides (fp32, vLLM's CPU build, no sleep mode: its check
is reported as skipped) so the script itself is tested where no GPU is. Prints a table, writes
``bench/results/gpu_check.json`` (``gpu_check_dry_run.json`` for the CPU run), and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

CONFIG = "configs/real_smollm2.yaml"
# GAE (the paper's estimator, with a critic): a group estimator gives a zero update when every sample of a
# barely format-tuned model earns the same reward, and the weights check would then fail for want of signal.
GPU_OVERRIDES = [
    "rl.algo.advantage=gae", "sft.model.precision=bf16-mixed", "rl.model.precision=bf16-mixed",
    "rl.resources.gpus_per_learner=1", "rl.resources.gpus_per_engine=1", "rl.resources.colocate=true",
    "rl.rollout.gpu_memory_utilization=0.3", "rl.max_steps=4",
    "eval.engine=vllm", "eval.device=cuda", "eval.vllm.dtype=bfloat16", "eval.vllm.kv_cache_gib=null",
    "eval.vllm.gpu_memory_utilization=0.5",
]
# On CPU the dry run keeps fp32: without native bf16 matrix units, bf16 autocast made one SFT step of
# SmolLM2 take more than 5 minutes here (20 s in fp32); bf16-mixed itself is tested on CPU at tiny scale.
CPU_OVERRIDES = [
    "rl.algo.advantage=gae", "rl.resources.colocate=true", "synth.source.procedural.n=60", "sft.max_steps=8", "sft.checkpoint_every=8",
    "sft.eval.num_generations=4", "rl.max_steps=2", "rl.checkpoint_every=2", "rl.data.eval_size=4",
    "rl.rae.offline_problems=4", "eval.limit=8", "eval.batch_size=8",
]
GREEDY_PROMPTS = 16
GREEDY_TOKENS = 48


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="run on CPU at a smaller scale")
    parser.add_argument("--run-dir", default="/tmp/satori-gpu-check", help="run folder (emptied first)")
    parser.add_argument("--out", help="results JSON (default bench/results/gpu_check[_dry_run].json)")
    parser.add_argument("--greedy-check", metavar="RUN_DIR", help=argparse.SUPPRESS)   # internal: one subprocess
    return parser.parse_args()


class MemoryWatch:
    """Peak used memory while a child runs: the GPU's (``torch.cuda.mem_get_info``) or the CPU tree's PSS."""

    def __init__(self, on_gpu: bool, pid: int | None = None):
        self.on_gpu, self.pid, self.peak, self._stop = on_gpu, pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _used(self) -> int:
        if self.on_gpu:
            import torch

            free, total = torch.cuda.mem_get_info()
            return total - free
        from bench.run import tree_memory
        import psutil

        return tree_memory(psutil.Process(self.pid))[1]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._used())
            except Exception:   # the child may be between processes; the next sample counts
                pass
            time.sleep(0.5)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_pipeline(run_dir: Path, overrides: list[str], on_gpu: bool) -> tuple[float, int]:
    """``satori run`` into ``run_dir``; returns (wall seconds, peak used bytes)."""
    command = [sys.executable, "-m", "satori.cli", "run", CONFIG, f"run_dir={run_dir}", *overrides]
    start = time.perf_counter()
    with open(run_dir.parent / f"{run_dir.name}.log", "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        with MemoryWatch(on_gpu, child.pid) as watch:
            code = child.wait()
    if code != 0:
        sys.exit(f"satori run failed (exit {code}); see {run_dir.parent / (run_dir.name + '.log')}")
    return time.perf_counter() - start, watch.peak


def sft_loss_falls(run_dir: Path) -> tuple[bool, str]:
    losses = [row["loss/train"] for row in map(json.loads, (run_dir / "sft" / "metrics.jsonl").open())
              if "loss/train" in row]
    k = max(1, len(losses) // 4)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return last < first, f"first {k} steps {first:.3f} -> last {k} steps {last:.3f}"


def load_state(folder: Path) -> dict:
    from safetensors.torch import load_file

    state = {}
    for file in sorted(folder.glob("*.safetensors")):
        state.update(load_file(file))
    return state


def rl_weights_change(run_dir: Path) -> tuple[bool, str]:
    import torch

    before, after = load_state(run_dir / "sft" / "model"), load_state(run_dir / "rl1" / "final")
    shared = sorted(set(before) & set(after))
    changed = [k for k in shared if not torch.equal(before[k].float(), after[k].float())]
    return bool(shared) and len(changed) > 0, f"{len(changed)} of {len(shared)} tensors changed"


def greedy_check(run_dir: Path, on_gpu: bool) -> dict:
    """In its own process (vLLM owns its threads): sleep / wake / sync a vLLM engine, compare with transformers."""
    import torch

    from satori.engines.base import SamplingParams
    from satori.engines.hf import HFEngine
    from satori.engines.vllm_engine import VLLMEngine
    from satori.prompts import encode_prompt
    from data_synthesis.families import generate_problems

    dtype = "bfloat16" if on_gpu else "float32"
    sft, rl = run_dir / "sft" / "model", run_dir / "rl1" / "final"
    engine = VLLMEngine(sft, dtype=dtype, max_model_len=1024, enable_sleep_mode=on_gpu,
                        **({"gpu_memory_utilization": 0.3} if on_gpu else {"kv_cache_gib": 1.0}))
    problems = generate_problems("word", GREEDY_PROMPTS, seed=1, split="test", difficulty=1)
    prompts = [encode_prompt(p.question, engine.tokenizer, "chat") for p in problems]
    greedy = SamplingParams(max_new_tokens=GREEDY_TOKENS, temperature=0, logprobs=False)
    result: dict = {}
    if on_gpu:
        held = torch.cuda.mem_get_info()
        engine.sleep()
        slept = torch.cuda.mem_get_info()
        freed = slept[0] - held[0]
        used_before = held[1] - held[0]
        result["sleep"] = {"freed_gib": freed / 2 ** 30, "used_before_gib": used_before / 2 ** 30,
                           "pass": freed >= 0.5 * used_before}
    engine.sleep()
    engine.wake()
    torch_dtype = getattr(torch, dtype)
    learner = HFEngine(str(rl), dtype=torch_dtype, device="cuda" if on_gpu else "cpu")
    engine.update_weights({k: v.to(torch_dtype) for k, v in learner.model.state_dict().items()})
    served = [g[0].token_ids for g in engine.generate(prompts, greedy)]
    reference = [g[0].token_ids for g in learner.generate(prompts, greedy)]
    same = sum(a == b for a, b in zip(served, reference))
    result["greedy"] = {"same": same, "prompts": len(prompts),
                        "pass": same >= (0.9 * len(prompts) if on_gpu else len(prompts))}
    engine.close()
    return result


def main() -> int:
    args = parse_args()
    on_gpu = not args.dry_run
    if args.greedy_check:
        print("RESULT " + json.dumps(greedy_check(Path(args.greedy_check), on_gpu)), flush=True)
        return 0
    if on_gpu:
        import torch

        if not torch.cuda.is_available():
            sys.exit("no CUDA GPU visible; run with --dry-run to exercise the script on CPU")
    run_dir = Path(args.run_dir).resolve()
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    overrides = GPU_OVERRIDES if on_gpu else CPU_OVERRIDES
    wall, peak = run_pipeline(run_dir, overrides, on_gpu)
    checks: list[tuple[str, bool | None, str]] = []
    checks.append(("sft loss falls", *sft_loss_falls(run_dir)))
    checks.append(("rl weights change", *rl_weights_change(run_dir)))
    command = [sys.executable, __file__, "--greedy-check", str(run_dir), *(["--dry-run"] * args.dry_run)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
    probe = next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))
    g = probe["greedy"]
    checks.append(("greedy rollouts match after sync", g["pass"], f"{g['same']} of {g['prompts']} prompts identical"))
    if "sleep" in probe:
        s = probe["sleep"]
        checks.append(("sleep frees memory", s["pass"], f"freed {s['freed_gib']:.2f} of {s['used_before_gib']:.2f} GiB"))
    else:
        checks.append(("sleep frees memory", None, "skipped: vLLM's CPU build has no sleep mode"))
    if on_gpu:
        import torch

        device = torch.cuda.mem_get_info()[1]
    else:
        import psutil

        device = psutil.virtual_memory().total
    checks.append(("memory peak", peak < device, f"{peak / 2 ** 30:.2f} of {device / 2 ** 30:.1f} GiB"))
    print(f"{'check':<34} {'result':<7} detail")
    for name, ok, detail in checks:
        print(f"{name:<34} {'skip' if ok is None else 'PASS' if ok else 'FAIL':<7} {detail}")
    print(f"satori run {CONFIG}: {wall / 60:.1f} min on {'CUDA' if on_gpu else 'CPU (dry run)'}")
    from satori.io import atomic_write_json

    out_path = Path(args.out or ROOT / "bench" / "results" / f"gpu_check{'_dry_run' if args.dry_run else ''}.json")
    atomic_write_json(out_path, {
        "device": "cuda" if on_gpu else "cpu", "config": CONFIG, "overrides": overrides,
        "wall_seconds": round(wall, 1), "peak_used_gib": round(peak / 2 ** 30, 3),
        "checks": [{"name": n, "pass": ok, "detail": d} for n, ok, d in checks],
        "command": "bash bench/gpu_check.sh " + " ".join(sys.argv[1:])})
    return 1 if any(ok is False for _, ok, _ in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
