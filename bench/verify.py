"""Verifier speed on the shared benchmark answers: pairs/s and p50/p99 latency, 1 and 2 workers.

    python bench/verify.py [--limit N] [--timeout S]

Pair sets (prediction, gold):
  math500-self     reference solution vs its answer (mostly decided by string normalization)
  math500-cross    a row's answer vs the next row's answer (wrong answers: both sides parsed by sympy)
  math500-restyled answer rewritten (\\frac->\\dfrac, spaces, \\left/\\right dropped, $..$) vs answer
  gsm8k-self       worked answer vs its #### number
  gsm8k-decimal    number written as "n.0 dollars" vs the worked answer (numeric comparison in a worker)
Each set gets a fresh pool that first grades 120 untimed OlympiadBench pairs (parser caches are
per worker process). Latency: one pair per call on the first half of the set (a call waits for
its verdict); throughput: one verify_batch over the second half;
"cpu ms": worker CPU per pair in that batch (with other sessions loading the machine, Linux
autogroup scheduling caps this session's CPU share, so wall-clock scaling needs an idle machine).
Writes bench/results/verify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

from satori.grading import VerifierPool
from satori.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (BENCHMARKS / name).read_text().splitlines() if line.strip()]


def _restyle(answer: str) -> str:
    restyled = answer.replace("\\frac", "\\dfrac").replace("\\left", "").replace("\\right", "")
    return "$" + re.sub(r",(?![\d\\])", ", ", restyled) + "$"  # keep thousands separators (10,000 and 10,\!000)


def pair_sets(limit: int) -> dict[str, list[tuple[str, str]]]:
    math = _rows("math500.jsonl")[:limit]
    gsm = _rows("gsm8k_test.jsonl")[:limit]
    numbers = [row["answer"].rsplit("####", 1)[1].strip() for row in gsm]
    return {
        "math500-self": [(row["solution"], row["answer"]) for row in math],
        "math500-cross": [(math[i]["answer"], math[(i + 1) % len(math)]["answer"]) for i in range(len(math))],
        "math500-restyled": [(_restyle(row["answer"]), row["answer"]) for row in math],
        "gsm8k-self": [(row["answer"], n) for row, n in zip(gsm, numbers)],
        "gsm8k-decimal": [(f"The answer is {n.replace(',', '')}.0 dollars.", row["answer"]) for row, n in zip(gsm, numbers)],
    }


def warm_up_pairs() -> list[tuple[str, list[str]]]:
    """OlympiadBench answers against the next row's answers (not part of the timed sets)."""
    answers = [row["final_answer"] for row in _rows("olympiadbench.jsonl")][:120]
    return [(", ".join(answers[i]), answers[(i + 1) % len(answers)]) for i in range(len(answers))]


def _workers_cpu_seconds(pool: VerifierPool) -> float:
    """User+system CPU time of the pool's worker processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for worker in pool._workers:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(workers: int, sets: dict[str, list[tuple[str, str]]], timeout: float) -> dict:
    """Per set, a fresh pool: untimed warm-up, latency on the first half, throughput on the second.

    The halves are disjoint so the workers' parse cache cannot replay timed pairs.
    """
    result = {"workers": workers, "sets": {}}
    all_latencies: list[float] = []
    total_pairs, total_seconds = 0, 0.0
    for name, pairs in sets.items():
        half = len(pairs) // 2
        with VerifierPool(workers=workers, timeout=timeout) as pool:
            pool.wait_ready()
            pool.verify_batch(warm_up_pairs())  # untimed: fills each worker's parser caches on other data
            latencies = []
            for pair in pairs[:half]:
                start = time.perf_counter()
                pool.verify(*pair)
                latencies.append(time.perf_counter() - start)
            restarts, cpu_before = pool.restarts, _workers_cpu_seconds(pool)
            start = time.perf_counter()
            verdicts = pool.verify_batch(pairs[half:])
            seconds = time.perf_counter() - start
            cpu = _workers_cpu_seconds(pool) - cpu_before if pool.restarts == restarts else float("nan")
        statuses = {s: sum(v.status == s for v in verdicts) for s in ("correct", "incorrect", "unparseable", "timeout")}
        result["sets"][name] = {
            "latency_pairs": half, "batch_pairs": len(pairs) - half, "pairs_per_s": (len(pairs) - half) / seconds,
            "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * _percentile(latencies, 0.99),
            "worker_cpu_ms_per_pair": 1000 * cpu / (len(pairs) - half), "statuses": statuses}
        all_latencies += latencies
        total_pairs += len(pairs) - half
        total_seconds += seconds
    result["all"] = {"batch_pairs": total_pairs, "pairs_per_s": total_pairs / total_seconds,
                     "p50_ms": 1000 * statistics.median(all_latencies),
                     "p99_ms": 1000 * _percentile(all_latencies, 0.99)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="rows per benchmark file (default 500)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "verify.json")
    args = parser.parse_args()
    sets = pair_sets(args.limit)
    load = os.getloadavg()[0]
    results = [measure(workers, sets, args.timeout) for workers in (1, 2)]
    print(f"{'set':<18}{'workers':>8}{'pairs':>7}{'pairs/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms':>8}  statuses")
    for result in results:
        for name, row in [*result["sets"].items(), ("ALL", result["all"])]:
            statuses = " ".join(f"{k}={v}" for k, v in row.get("statuses", {}).items() if v)
            cpu = f"{row['worker_cpu_ms_per_pair']:>8.2f}" if "worker_cpu_ms_per_pair" in row else " " * 8
            print(f"{name:<18}{result['workers']:>8}{row['batch_pairs']:>7}{row['pairs_per_s']:>10.1f}"
                  f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.1f}{cpu}  {statuses}")
    speedup = results[1]["all"]["pairs_per_s"] / results[0]["all"]["pairs_per_s"]
    print(f"throughput 2 workers / 1 worker: {speedup:.2f}x   (1-min load average at start: {load:.1f}, "
          f"{os.cpu_count()} CPUs)")
    atomic_write_json(args.out, {"results": results, "speedup_2_vs_1": speedup, "load_average_1min": load,
                                 "cpu_count": os.cpu_count(), "limit": args.limit, "timeout": args.timeout})


if __name__ == "__main__":
    main()
