"""Resolve a problem-set spec: ``procedural:FAMILY[,FAMILY...][:DIFFICULTY[,...]]`` or a file / hub dataset name."""

from __future__ import annotations

from satori.problems import Problem, load_problems

PROCEDURAL = "procedural:"


def load_problem_set(spec: str, size: int, split: str, seed: int, difficulty: int | list[int] = 1) -> list[Problem]:
    """``size`` problems of ``split`` from ``spec``.

    Procedural families are generated (train and test never share a problem) at the spec's
    difficulties, else at ``difficulty``; any other spec is loaded with
    :func:`satori.problems.load_problems` (first ``size`` rows).
    """
    if spec.startswith(PROCEDURAL):
        from data_synthesis.families import generate_mix, parse_procedural_spec

        families, levels = parse_procedural_spec(spec)
        return generate_mix(families, levels or (difficulty if isinstance(difficulty, list) else [difficulty]),
                            size, seed=seed, split=split)
    return load_problems(spec, split=split, limit=size)
