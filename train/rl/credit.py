"""Per-token credit for arithmetic claims: a dense signal beside the outcome reward.

An outcome reward tells a whole trajectory that it went wrong, not where. Each arithmetic claim
of a response (``satori.claims.claim_token_marks``: ``7 + 4 = 11``, checked exactly) marks the tokens
that write its computed side, from its first ``=`` to its end: ``+1`` when the claim holds, ``-1``
when it does not. ``centred_credit`` subtracts the batch's share of holding marks, and the driver adds
``reward.claim_credit`` times the result to those tokens' advantages, so a wrong fact is pushed
down where it is written, whatever the final answer.
"""

from __future__ import annotations


def centred_credit(marks: list[list[int]], scale: float) -> tuple[list[list[float]], dict[str, float]]:
    """``scale * (1[holds] - share)`` on every marked token, 0 elsewhere, with ``share`` the share of
    marked tokens (over all responses) that belong to holding claims; and that share and the
    marked tokens per response as metrics."""
    marked = [m for row in marks for m in row if m]
    share = sum(m > 0 for m in marked) / len(marked) if marked else 0.0
    credit = [[scale * ((m > 0) - share) if m else 0.0 for m in row] for row in marks]
    return credit, {"credit/claim_token_share": share, "credit/claim_tokens": len(marked) / max(len(marks), 1)}
