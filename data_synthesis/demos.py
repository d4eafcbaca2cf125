"""Assemble COAT demonstrations from an attempt chain and the critic's reflections.

A chain is the first attempt followed by one refinement per critique. The text is::

    <|continue|>step ... <|continue|>step with \\boxed{wrong}
    <|reflect|>critique 1        <|explore|>Instead, first fixed step   <|continue|>rest ...
    (more rounds)                <|reflect|>verification (correct_verified only)
"""

from __future__ import annotations

from data_synthesis.agents import Attempt, Critique
from satori.coat import CONTINUE, EXPLORE, REFLECT, Step, render

KINDS = ("correct_verified", "error_reflect_explore", "multi_round")


def kind_of(chain: list[Attempt]) -> str:
    """The demonstration kind a chain makes: no critique, one round, or several."""
    return KINDS[min(len(chain) - 1, 2)]


def render_demo(chain: list[Attempt], critiques: list[Critique], verification: Critique | None = None) -> str:
    """COAT text of ``chain`` (``len(critiques) == len(chain) - 1``), ending in ``verification`` if given."""
    if len(critiques) != len(chain) - 1:
        raise ValueError(f"a chain of {len(chain)} attempts needs {len(chain) - 1} critiques, got {len(critiques)}")
    steps = [Step(CONTINUE, text) for text in chain[0].steps]
    for critique, refinement in zip(critiques, chain[1:]):
        steps.append(Step(REFLECT, critique.reflection))
        steps.append(Step(EXPLORE, f"Instead, {_lower_first(refinement.steps[0])}"))
        steps.extend(Step(CONTINUE, text) for text in refinement.steps[1:])
    if verification is not None:
        steps.append(Step(REFLECT, verification.reflection))
    return render([Step(s.action, s.text + "\n") for s in steps[:-1]] + steps[-1:])


def _lower_first(text: str) -> str:
    """``"Add 7 ..."`` -> ``"add 7 ..."``; leaves ``"I"``, acronyms and numbers alone."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[0].isupper() and text[1].islower() else text
