"""Peak memory and time of token log-probs + entropy (forward and backward): chunked vs plain autograd.

    python bench/logprobs.py [--batch 4] [--length 512] [--vocab 32000]

Each variant runs in a fresh process; "extra peak MiB" is the growth of the process's peak
resident memory over the forward and backward pass, after the logits already exist. The
gradient of the logits itself (one ``(B, T, V)`` tensor) is part of every variant's figure.
Writes bench/results/logprobs.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("plain", "chunked")


def plain(logits, labels):
    import torch

    logp = torch.log_softmax(logits, -1)
    return logp.gather(-1, labels[..., None]).squeeze(-1), -(logp.exp() * logp).sum(-1)


def chunked(logits, labels):
    from train.algorithms.logprobs import entropy_from_logits, token_logprobs

    return token_logprobs(logits, labels), entropy_from_logits(logits)


def measure(variant: str, batch: int, length: int, vocab: int) -> dict:
    """Run one variant in this process and return its figures."""
    import torch

    torch.manual_seed(0)
    logits = torch.randn(batch, length, vocab, requires_grad=True)
    labels = torch.randint(0, vocab, (batch, length))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    logprobs, entropy = {"plain": plain, "chunked": chunked}[variant](logits, labels)
    (logprobs.sum() + 0.01 * entropy.sum()).backward()
    seconds = time.perf_counter() - start
    extra_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"variant": variant, "seconds": round(seconds, 3), "extra_peak_mib": round(extra_kib / 1024, 1),
            "logits_mib": round(logits.numel() * 4 / 2 ** 20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.batch, args.length, args.vocab)))
        return 0
    rows = []
    for variant in VARIANTS:
        child = subprocess.run([sys.executable, __file__, "--variant", variant, "--batch", str(args.batch),
                                "--length", str(args.length), "--vocab", str(args.vocab)],
                               capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout))
    print(f"B={args.batch} T={args.length} V={args.vocab} (logits {rows[0]['logits_mib']} MiB, float32)")
    print(f"{'variant':<10}{'seconds':>10}{'extra peak MiB':>16}")
    for row in rows:
        print(f"{row['variant']:<10}{row['seconds']:>10.3f}{row['extra_peak_mib']:>16.1f}")
    out = Path(__file__).parent / "results" / "logprobs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"shape": vars(args) | {"variant": None}, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
