"""Per-token claim credit: which tokens are marked, the centring, and its place in the advantages.
(The learner following it is in test_learner.py.)"""

from __future__ import annotations

from satori.claims import claim_token_marks, find_claims
from train.rl.batch import Sample, add_advantages, collate
from train.rl.config import AlgoConfig
from train.rl.credit import centred_credit


def test_marks_cover_the_computed_side_of_each_claim():
    text = "<|continue|>2 + 5 = 7, then 7 * 2 = 15.<|reflect|>Wait, 7 * 2 = 15 is wrong."
    ends = list(range(1, len(text) + 1))  # one character per token
    marks = claim_token_marks(find_claims(text), ends)
    marked = {sign: "".join(ch for ch, m in zip(text, marks) if m == sign) for sign in (1, -1)}
    assert marked == {1: "= 7", -1: "= 15"}  # the reflect step restates a claim on purpose: unmarked


def test_a_token_straddling_a_claim_edge_is_marked():
    text = "<|continue|>3 + 4 = 8."
    eq = text.index("=")
    ends = [eq - 1, eq + 2, len(text)]  # the second token holds "= 8" minus its last character
    assert claim_token_marks(find_claims(text), ends) == [0, -1, -1]


def test_centred_credit_by_hand():
    credit, metrics = centred_credit([[1, 1, 0, -1], [0, -1]], scale=2.0)
    # share of marked tokens in holding claims: 2 of 4
    assert credit == [[1.0, 1.0, 0.0, -1.0], [0.0, -1.0]]
    assert metrics == {"credit/claim_token_share": 0.5, "credit/claim_tokens": 2.0}
    assert centred_credit([[0], [0, 0]], scale=1.0) == ([[0.0], [0.0, 0.0]],
                                                        {"credit/claim_token_share": 0.0, "credit/claim_tokens": 0.0})


def test_credit_is_added_to_the_advantages_of_its_tokens():
    samples = [Sample([5, 6], [7, 8, 9], [0.0] * 3, reward=1.0, group=0, credit=[0.0, 0.5, -0.25]),
               Sample([5], [7, 8], [0.0] * 2, reward=0.0, group=0)]
    batch = collate(samples, pad_id=0)
    assert batch["token_credit"].tolist() == [[0.0, 0.0, 0.5, -0.25], [0.0, 0.0, 0.0, 0.0]]
    batch["logprobs_old"] = batch["rollout_logprobs"].clone()
    add_advantages(batch, AlgoConfig(advantage="grpo_no_std", whiten_advantages=False))
    # grpo_no_std: +0.5 / -0.5 on every response token, plus the credit
    assert batch["advantages"].tolist() == [[0.0, 0.5, 1.0, 0.25], [-0.5, -0.5, 0.0, 0.0]]
