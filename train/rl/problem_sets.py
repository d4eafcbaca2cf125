"""Resolve a problem-set spec: ``procedural:FAMILY[,FAMILY...]`` or a file / hub dataset name."""

from __future__ import annotations

from satori.problems import Problem, load_problems

PROCEDURAL = "procedural:"


def load_problem_set(spec: str, size: int, split: str, seed: int, difficulty: int | list[int] = 1) -> list[Problem]:
    """``size`` problems of ``split`` from ``spec``.

    Procedural families are generated (train and test never share a problem); any other
    spec is loaded with :func:`satori.problems.load_problems` (first ``size`` rows).
    """
    if spec.startswith(PROCEDURAL):
        from data_synthesis.families import generate_mix

        families = {name.strip(): 1.0 for name in spec[len(PROCEDURAL):].split(",") if name.strip()}
        difficulties = difficulty if isinstance(difficulty, list) else [difficulty]
        return generate_mix(families, difficulties, size, seed=seed, split=split)
    return load_problems(spec, split=split, limit=size)
