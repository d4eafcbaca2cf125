"""`satori rm` end to end: it learns, saves a transformers sequence classifier, and resumes exactly after SIGKILL."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from satori.tracking import read_metrics
from train.checkpoint import latest_checkpoint

from kill_resume import env, kill_after_step, logged_steps
from rm_labels import write_labels

pytestmark = pytest.mark.slow  # CLI subprocesses training a reward model

ROOT = Path(__file__).resolve().parents[2]


def registered_rm() -> str:
    """`satori rm`'s module as setup.cfg registers it (the installed metadata may predate it)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    commands = dict(line.split(" = ") for line in parser["options.entry_points"]["satori.commands"].strip().splitlines())
    return commands["rm"]


RUNNER = ("import sys; from importlib.metadata import EntryPoint; from satori.cli import main; "
          f"sys.exit(main(sys.argv[1:], [EntryPoint('rm', {registered_rm()!r}, 'satori.commands')]))")


def command(run_dir: Path, policy: Path, labels: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", RUNNER, "rm", str(ROOT / "configs" / "rm_tiny.yaml"), f"run_dir={run_dir}",
            f"data.policy={policy}", f"data.train_file={labels / 'train.jsonl'}",
            f"data.eval_file={labels / 'eval.jsonl'}", "data.train_size=24", "data.eval_size=8",
            "data.max_length=96", "train.batch_size=4", "threads=1", "optim.warmup_steps=2",
            "tracking.tensorboard=false", *extra, "--no-progress"]


@pytest.fixture
def labels(tmp_path) -> Path:
    folder = tmp_path / "labels"
    folder.mkdir()
    write_labels(folder / "train.jsonl", 24)
    write_labels(folder / "eval.jsonl", 8, offset=40)     # held-out sums
    return folder


@pytest.mark.parametrize("score", ["head", "likelihood"])
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, tiny_policy_dir, labels, score):
    steps = ["max_steps=12", "checkpoint_every=4", "eval_every=4", "keep_checkpoints=3", f"model.score={score}"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = subprocess.run(command(straight, tiny_policy_dir, labels, *steps), env=env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    process = subprocess.Popen(command(killed, tiny_policy_dir, labels, *steps), env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_after_step(process, killed, 6, timeout=400)   # past checkpoint 4, before 8
    assert latest_checkpoint(killed).name == "checkpoint-000004"
    assert not (killed / "model").exists()

    resumed = subprocess.run(command(killed, tiny_policy_dir, labels, *steps), env=env(), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout
    expected, actual = load_file(straight / "model" / "model.safetensors"), load_file(killed / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    assert any(name.startswith("score") for name in expected) == (score == "head")   # a head, or the LM itself
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
    assert logged_steps(killed) == list(range(1, 13))
    losses = [[r["loss/train"] for r in read_metrics(run / "metrics.jsonl") if "loss/train" in r]
              for run in (straight, killed)]
    assert losses[0] == losses[1]
    assert json.loads((killed / "summary.json").read_text()) == json.loads((straight / "summary.json").read_text())


@pytest.mark.parametrize("loss", ["bt", "bce"])
def test_it_learns_and_saves_a_transformers_sequence_classifier(tmp_path, tiny_policy_dir, labels, loss):
    from transformers import AutoModelForSequenceClassification

    run = tmp_path / "run"
    done = subprocess.run(command(run, tiny_policy_dir, labels, "model.score=head", f"train.loss={loss}",
                                  "max_steps=40", "eval_every=20", "checkpoint_every=40", "optim.lr=2e-3"),
                          env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 40
    assert summary["eval/pairwise_accuracy"] >= 0.9 and summary["eval/auc"] >= 0.9    # "Right." vs "Wrong."
    assert summary["eval/best_of_n"] == 1.0 and summary["eval/mean_accuracy"] == 0.5
    model = AutoModelForSequenceClassification.from_pretrained(run / "model")
    assert model.config.num_labels == 1 and type(model).__name__ == "Qwen2ForSequenceClassification"
    meta = json.loads((run / "model" / "satori.json").read_text())
    assert meta["stage"] == "rm" and meta["template"] == "satori" and meta["loss"] == loss


def test_a_label_set_without_pairs_is_refused_with_the_file_named(tmp_path, tiny_policy_dir):
    folder = tmp_path / "labels"
    folder.mkdir()
    row = {"id": "p", "question": "What is 1 + 1?", "gold": "2",
           "samples": [{"text": "\\boxed{2}", "correct": True}, {"text": "\\boxed{2} ok", "correct": True}]}
    for name in ("train.jsonl", "eval.jsonl"):
        (folder / name).write_text(json.dumps(row) + "\n")
    done = subprocess.run(command(tmp_path / "run", tiny_policy_dir, folder, "data.train_size=1", "data.eval_size=1"),
                          env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert "train.jsonl: no training pairs" in done.stderr and "train.loss=bce" in done.stderr


def test_a_likelihood_reward_model_learns_and_scores_as_it_was_evaluated(tmp_path, tiny_policy_dir, labels):
    from transformers import AutoModelForCausalLM

    from eval.rerank import pairwise_accuracy
    from satori.orm import RewardModel
    from train.rm.labels import read_labels

    run = tmp_path / "run"
    done = subprocess.run(command(run, tiny_policy_dir, labels, "model.score=likelihood", "max_steps=40",
                                  "eval_every=0", "checkpoint_every=40", "optim.lr=2e-3"),
                          env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval/pairwise_accuracy"] >= 0.9 and summary["eval/best_of_n"] == 1.0    # "Right." vs "Wrong."
    meta = json.loads((run / "model" / "satori.json").read_text())
    assert meta["score"] == "likelihood" and meta["score_scale"] == 10.0
    assert type(AutoModelForCausalLM.from_pretrained(run / "model")).__name__ == "Qwen2ForCausalLM"
    rows = read_labels(labels / "eval.jsonl")
    orm = RewardModel(str(run / "model"))
    scores = [orm.score([row.question] * len(row.samples), [s["text"] for s in row.samples]) for row in rows]
    accuracy = pairwise_accuracy([(sc, [s["correct"] for s in row.samples]) for sc, row in zip(scores, rows)])
    assert accuracy == pytest.approx(summary["eval/pairwise_accuracy"])


def test_a_likelihood_score_with_the_pointwise_loss_is_refused():
    from satori.config import ConfigError, load_config
    from train.rm.config import RMConfig

    with pytest.raises(ConfigError, match=r"train.loss.*train.loss=bt"):
        load_config(RMConfig, None, ["model.score=likelihood", "train.loss=bce"])
    with pytest.raises(ConfigError, match="model.score"):
        load_config(RMConfig, None, ["model.score=mean"])


def test_a_wall_clock_budget_spent_before_a_resume_runs_no_further_step(tmp_path, tiny_policy_dir, labels):
    """The seconds spent up to a checkpoint count against ``max_seconds`` in the resumed process."""
    from satori.config import load_config
    from train.checkpoint import TRAINING_STATE_FILE
    from train.rm.config import RMConfig
    from train.rm.trainer import RMTrainer

    run = tmp_path / "run"
    overrides = command(run, tiny_policy_dir, labels, "eval_every=0", "checkpoint_every=0")[5:-1]

    def trainer(*extra: str) -> RMTrainer:
        return RMTrainer(load_config(RMConfig, ROOT / "configs" / "rm_tiny.yaml", [*overrides, *extra]), progress=False)

    trainer("max_steps=3", "max_seconds=100000").train()
    spent = torch.load(run / "checkpoint-000003" / TRAINING_STATE_FILE, weights_only=False)["extra"]["spent_seconds"]
    assert spent > 0
    resumed = trainer("max_steps=9", f"max_seconds={spent}")
    resumed.train()
    assert resumed.step == 3 and latest_checkpoint(run).name == "checkpoint-000003"
