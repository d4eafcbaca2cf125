"""Advantage estimators, selected by name from ``ADVANTAGE_ESTIMATORS``.

Every estimator has the same signature::

    estimator(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0)
        -> (advantages, returns)

- ``rewards`` ``(B, T)``: token-level rewards over response tokens; the outcome scalar sits
  on the last response token (``place_on_last_token``), per-token KL penalties anywhere.
- ``mask`` ``(B, T)``: 1 on response tokens. Padding (anywhere, even inside a row) is
  skipped: it never affects a result and gets advantage and return 0.
- ``values`` ``(B, T)``: critic values, needed by ``gae`` only.
- ``group_ids`` ``(B,)``: integer id of the prompt each sample answers (samples of one
  prompt share an id), needed by the group estimators; every group needs two or more samples.
- Outputs ``(B, T)``, computed without gradient. ``returns`` are the critic targets for
  ``gae`` (advantages + values) and the discounted rewards-to-go for the critic-free estimators.

A sequence's score is the sum of its token rewards; each estimator's own docstring says what it computes.

``grpo`` divides by the batch std, not the group's own (group mean, batch std, as in Lite PPO):
a restart group holds two reward levels, so its own std would z-score the gap ``1 + bonus_scale``
to the same advantages for every ``reward.bonus_scale``; a per-problem pool would not help either,
as a restart's problem rarely has plain samples in the same step.

``ADVANTAGE_ESTIMATORS`` maps each name to an ``Estimator``, the one record of its properties:
the function, what it needs, its whitening default (``algo.whiten_advantages: null``), whether a
KL penalty may go in its reward, and its OpenRLHF counterpart (``train.openrlhf.launch``). The group
estimators are not whitened by default (an all-correct group keeps advantage 0), nor is ``raft``
(rejected samples keep 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from train.algorithms.logprobs import masked_sum, masked_whiten

BATCH_STD_EPS = 1e-6  # added to the batch score std in ``grpo``
RAFT_MIN_SCORE = 0.0  # a correct answer's score under satori's shaping (``satori.rewards.correctness_reward``)


def place_on_last_token(scalars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token rewards ``(B, T)`` holding ``scalars`` ``(B,)`` on each row's last masked token, 0 elsewhere."""
    mask = mask.bool()
    empty = (~mask.any(-1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"rows {empty} have no response token to put the reward on")
    last = mask.shape[-1] - 1 - mask.flip(-1).int().argmax(-1)
    out = torch.zeros(mask.shape, dtype=scalars.dtype, device=scalars.device)
    out[torch.arange(mask.shape[0], device=mask.device), last] = scalars
    return out


def _broadcast(per_sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` -> ``(B, T)``: the sequence's value on every masked token, 0 on padding."""
    return torch.where(mask.bool(), per_sequence[:, None], 0.0)


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Rewards-to-go ``G_t = r_t + gamma * G_next`` over masked tokens: ``(B, T)`` -> ``(B, T)``."""
    mask = mask.bool()
    returns = torch.zeros_like(rewards)
    carry = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        carry = torch.where(mask[:, t], rewards[:, t] + gamma * carry, carry)
        returns[:, t] = torch.where(mask[:, t], carry, 0.0)
    return returns


def _group_stats(scores: torch.Tensor, group_ids: torch.Tensor):
    """Per-sample group ``(sum, mean, std, size)`` of ``scores`` ``(B,)``; std is unbiased."""
    if group_ids is None:
        raise ValueError("this advantage estimator needs group_ids (B,): one id per prompt")
    _, inverse, counts = torch.unique(group_ids, return_inverse=True, return_counts=True)
    if (counts < 2).any():
        raise ValueError("every group needs at least 2 samples for a group baseline; "
                         f"group sizes found: {sorted(set(counts.tolist()))} (sample n >= 2 per prompt)")
    counts = counts.to(scores.dtype)
    sums = torch.zeros_like(counts).index_add_(0, inverse, scores)
    means = sums / counts
    squares = torch.zeros_like(counts).index_add_(0, inverse, (scores - means[inverse]).square())
    stds = (squares / (counts - 1)).sqrt()
    return sums[inverse], means[inverse], stds[inverse], counts[inverse]


def _outcome_advantages(advantage_per_sequence, rewards, mask, gamma):
    """A critic-free estimator's outputs: the ``(B,)`` advantage on every response token, and rewards-to-go."""
    return _broadcast(advantage_per_sequence, mask), discounted_returns(rewards, mask, gamma)


@torch.no_grad()
def gae(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """Generalised advantage estimation: ``A_t = delta_t + gamma * gae_lambda * A_next``,
    ``delta_t = r_t + gamma * V_next - V_t``; ``returns = A + V``. Needs ``values`` ``(B, T)``:
    ``values[:, t]`` estimates the return from the state just before response token t
    (the value head's output at the position whose logits predict token t).
    """
    if values is None:
        raise ValueError("gae needs critic values (B, T)")
    mask = mask.bool()
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_advantage = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        valid = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * gae_lambda * next_advantage
        next_advantage = torch.where(valid, advantage, next_advantage)
        next_value = torch.where(valid, values[:, t], next_value)
        advantages[:, t] = torch.where(valid, advantage, 0.0)
    returns = torch.where(mask, advantages + values, 0.0)
    return advantages, returns


@torch.no_grad()
def grpo(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """GRPO with the batch std: ``(score - group mean) / (std of the B scores + BATCH_STD_EPS)``
    on every response token (the std is unbiased, over every sample of the batch)."""
    scores = masked_sum(rewards, mask, dim=-1)
    _, means, _, _ = _group_stats(scores, group_ids)
    return _outcome_advantages((scores - means) / (scores.std() + BATCH_STD_EPS), rewards, mask, gamma)


@torch.no_grad()
def grpo_no_std(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """GRPO without std scaling (Dr. GRPO's advantage): ``score - group mean`` on every response token."""
    scores = masked_sum(rewards, mask, dim=-1)
    _, means, _, _ = _group_stats(scores, group_ids)
    return _outcome_advantages(scores - means, rewards, mask, gamma)


@torch.no_grad()
def rloo(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """RLOO: ``score - mean of the other samples' scores in the group`` on every response token."""
    scores = masked_sum(rewards, mask, dim=-1)
    sums, _, _, sizes = _group_stats(scores, group_ids)
    return _outcome_advantages(scores - (sums - scores) / (sizes - 1), rewards, mask, gamma)


@torch.no_grad()
def reinforce_pp(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """REINFORCE++: discounted rewards-to-go, whitened over all response tokens of the batch."""
    returns = discounted_returns(rewards, mask, gamma)
    return masked_whiten(returns, mask), returns


@torch.no_grad()
def reinforce_pp_baseline(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """REINFORCE++ with baseline: the group-mean score is subtracted on the last response token,
    then rewards-to-go are whitened over the batch; ``returns`` are the unshifted rewards-to-go.
    """
    scores = masked_sum(rewards, mask, dim=-1)
    _, means, _, _ = _group_stats(scores, group_ids)
    shifted = rewards - place_on_last_token(means, mask)
    return masked_whiten(discounted_returns(shifted, mask, gamma), mask), discounted_returns(rewards, mask, gamma)


@torch.no_grad()
def raft(rewards, mask, *, values=None, group_ids=None, gamma=1.0, gae_lambda=1.0):
    """RAFT / rejection-sampling fine-tuning (expert iteration): advantage 1 on every response token
    of a sample whose score is at least ``RAFT_MIN_SCORE`` (a verified-correct answer with no
    penalty term below 0), 0 on the others.

    With ratio ~1 (one PPO epoch on fresh samples) the clipped loss ``-A * ratio`` has the gradient
    of the NLL of the kept samples' tokens, so PPO on these advantages is SFT on the accepted
    samples. Reward magnitudes beyond the threshold (the restart bonus, the ORM term) do not count;
    a per-token KL penalty in the reward would push correct samples below the threshold.
    """
    scores = masked_sum(rewards, mask, dim=-1)
    return _outcome_advantages((scores >= RAFT_MIN_SCORE).to(rewards.dtype), rewards, mask, gamma)


@dataclass(frozen=True)
class Estimator:
    """An advantage estimator and its properties."""

    compute: object                 # the estimator function (signature in the module docstring)
    needs_critic: bool = False      # critic values ``(B, T)``
    needs_groups: bool = False      # ``group_ids`` with two or more samples per prompt
    whiten_by_default: bool = False  # whiten its advantages over the batch unless told otherwise
    reward_kl: bool = True          # a per-token KL penalty may go in the reward (``algo.kl_mode=reward``)
    openrlhf: str | None = None     # OpenRLHF's ``--algo.advantage.estimator`` doing the same (None: none does)
    openrlhf_whitens: bool | None = None  # whether OpenRLHF whitens them (None: about the same either way)


ADVANTAGE_ESTIMATORS = {
    "gae": Estimator(gae, needs_critic=True, whiten_by_default=True, openrlhf="gae", openrlhf_whitens=True),
    # OpenRLHF's group_norm divides by each group's own std, which cancels the restart bonus
    "grpo": Estimator(grpo, needs_groups=True),
    "grpo_no_std": Estimator(grpo_no_std, needs_groups=True, openrlhf="dr_grpo", openrlhf_whitens=False),
    "rloo": Estimator(rloo, needs_groups=True, openrlhf="rloo", openrlhf_whitens=False),
    # both whiten their own rewards-to-go, so OpenRLHF's whitening them again changes next to nothing
    "reinforce_pp": Estimator(reinforce_pp, whiten_by_default=True, openrlhf="reinforce"),
    "reinforce_pp_baseline": Estimator(reinforce_pp_baseline, needs_groups=True, openrlhf="reinforce_baseline"),
    # a KL penalty in the reward would push correct samples below RAFT_MIN_SCORE
    "raft": Estimator(raft, reward_kl=False),
}

def compute_advantages(name: str, rewards: torch.Tensor, mask: torch.Tensor, *, values=None, group_ids=None,
                       gamma: float = 1.0, gae_lambda: float = 1.0, whiten: bool = False):
    """Run the estimator ``name``; with ``whiten``, whiten the advantages over the batch's response tokens.

    Returns ``(advantages (B, T), returns (B, T))``.
    """
    if name not in ADVANTAGE_ESTIMATORS:
        raise ValueError(f"unknown advantage estimator {name!r}; choose one of {sorted(ADVANTAGE_ESTIMATORS)}")
    advantages, returns = ADVANTAGE_ESTIMATORS[name].compute(rewards, mask, values=values, group_ids=group_ids,
                                                             gamma=gamma, gae_lambda=gae_lambda)
    if whiten:
        advantages = masked_whiten(advantages, mask)
    return advantages, returns


@torch.no_grad()
def zero_advantage_group_share(advantages: torch.Tensor, mask: torch.Tensor, group_ids: torch.Tensor,
                               atol: float = 1e-6) -> float:
    """Share of groups whose advantages ``(B, T)`` are all within ``atol`` of 0 on response tokens.

    Such groups (e.g. every sample right, or every sample wrong, under GRPO) give no gradient.
    """
    magnitude = torch.where(mask.bool(), advantages.abs(), 0.0).amax(dim=-1)
    _, inverse = torch.unique(group_ids, return_inverse=True)
    group_max = torch.zeros(int(inverse.max()) + 1, dtype=magnitude.dtype, device=magnitude.device)
    group_max = group_max.scatter_reduce(0, inverse, magnitude, reduce="amax")
    return (group_max <= atol).float().mean().item()
