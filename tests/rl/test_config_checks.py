"""RLConfig checks for real-scale runs: precision, the rollout dtype, refused settings, mini-batch sizes."""

from __future__ import annotations

import pytest

from satori.config import ConfigError, load_config
from train.rl.config import RLConfig


def test_precision_replaces_dtype_and_refuses_pure_bf16_below_what_bf16_represents():
    with pytest.raises(ConfigError, match=r"key 'model.dtype' was replaced: use model.precision"):
        load_config(RLConfig, None, ["model.dtype=bfloat16"])
    with pytest.raises(ConfigError, match="model.precision"):
        load_config(RLConfig, None, ["model.precision=bfloat16"])
    with pytest.raises(ConfigError) as info:  # the paper's actor lr
        load_config(RLConfig, None, ["model.precision=bf16-pure", "algo.actor_lr=2e-7"])
    message = str(info.value)
    for words in ("key 'model.precision'", "algo.actor_lr = 2e-07", "magnitude 0.02", "2^-13", "6.1e-05",
                  "use model.precision=bf16-mixed"):
        assert words in message, words
    with pytest.raises(ConfigError, match="algo.critic_lr = 5e-06"):  # gae trains a critic
        load_config(RLConfig, None, ["model.precision=bf16-pure", "algo.actor_lr=1e-4"])
    pure = load_config(RLConfig, None, ["model.precision=bf16-pure", "algo.actor_lr=1e-4", "algo.critic_lr=1e-4"])
    assert pure.model.precision == "bf16-pure"
    assert load_config(RLConfig, None, ["model.precision=bf16-mixed"]).model.precision == "bf16-mixed"


def test_rollout_dtype_follows_the_learner_unless_set():
    assert load_config(RLConfig).rollout_dtype == "float32"
    assert load_config(RLConfig, None, ["model.precision=bf16-mixed"]).rollout_dtype == "bfloat16"
    assert load_config(RLConfig, None, ["model.precision=bf16-mixed", "rollout.dtype=float32"]).rollout_dtype == "float32"


def test_an_outcome_reward_model_is_accepted_with_a_positive_scale():
    assert load_config(RLConfig, None, ["reward.orm=runs/orm"]).reward.orm == "runs/orm"
    with pytest.raises(ConfigError, match=r"key 'reward.orm_scale': with reward.orm set"):
        load_config(RLConfig, None, ["reward.orm=runs/orm", "reward.orm_scale=0"])


def test_every_learner_gets_a_row_of_each_mini_batch():
    small = ["rollout.prompts_per_step=4", "rollout.samples_per_prompt=2", "algo.mini_batches=4"]
    assert load_config(RLConfig, None, [*small, "ray.learners=2"]).ray.learners == 2
    with pytest.raises(ConfigError, match=r"key 'algo.mini_batches': a mini-batch of 2 rows .* 3 learners"):
        load_config(RLConfig, None, [*small, "ray.learners=3"])


@pytest.mark.parametrize("threads,workers,each", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 2, 4)])
def test_rollout_workers_split_the_runs_threads(threads, workers, each):
    config = load_config(RLConfig, None, [f"threads={threads}", f"rollout.num_workers={workers}"])
    assert config.rollout_threads == each


def test_rollout_workers_keep_torchs_default_threads_when_threads_is_null():
    assert load_config(RLConfig, None, ["threads=null", "rollout.num_workers=2"]).rollout_threads is None


def test_a_negative_eval_size_names_the_key():
    with pytest.raises(ConfigError, match=r"data.eval_size.*0: no in-run evaluation"):
        load_config(RLConfig, None, ["data.eval_size=-1"])
    assert load_config(RLConfig, None, ["data.eval_size=0"]).data.eval_size == 0


def test_a_run_needs_a_step_count_or_a_wall_clock_budget():
    with pytest.raises(ConfigError, match=r"key 'max_steps'.*max_seconds"):
        load_config(RLConfig, None, ["max_steps=null"])
    config = load_config(RLConfig, None, ["max_steps=null", "max_seconds=600"])
    assert config.max_steps is None and config.max_seconds == 600
