"""Write procedural problem sets to JSONL for held-out evaluation and other stages.

    python -m data_synthesis.export OUT.jsonl --split test --n 300 [--families arith,fractions,linear]
        [--difficulties 1,2] [--seed 0]

Rows are ``id, question, answer, solution, family, difficulty, spec``, readable by
``satori.problems.load_problems`` (and by ``satori synth`` with ``source.file.meta=[family,
difficulty, spec]`` for the scripted agents). The split is fixed by each problem's hash, so a
``test`` file never shares a problem with ``train`` demonstrations, whatever the seeds.
"""

from __future__ import annotations

import argparse

from data_synthesis.families import FAMILIES, SPLITS, export_jsonl, generate_mix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output JSONL path")
    parser.add_argument("--split", choices=SPLITS, default="test")
    parser.add_argument("--n", type=int, default=300, help="problems in all")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated, equal weights")
    parser.add_argument("--difficulties", default="1,2", help="comma-separated, from 1 2 3")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    families = {name: 1.0 for name in args.families.split(",")}
    problems = generate_mix(families, [int(d) for d in args.difficulties.split(",")], args.n, args.seed, args.split)
    export_jsonl(problems, args.out)
    print(f"wrote {len(problems)} {args.split} problems to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
