"""Pure PPO algorithm code: advantages, policy/value losses, KL estimators, token log-probs.

Every module here takes tensors and masks and returns tensors; it imports torch only
(no Ray, vLLM or transformers). Import the submodules directly, e.g.
``from train.algorithms.advantages import ADVANTAGE_ESTIMATORS``.
"""
