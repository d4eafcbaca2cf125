"""`satori pretrain` end to end on a tiny model, then `satori sft` format-tunes the base it wrote."""

from __future__ import annotations

import json

import pytest

from satori.config import load_config
from satori.tracking import read_metrics
from train.pretrain import PretrainConfig, PretrainTrainer
from train.sft.config import SFTConfig
from train.sft.trainer import SFTTrainer

pytestmark = pytest.mark.slow  # pretrain and SFT training loops

TINY = ["corpus.problems=20", "corpus.difficulties=[0]", "corpus.table_max=3", "model.tiny.vocab_size=400",
        "model.tiny.hidden_size=64", "model.tiny.num_heads=2", "data.max_length=128", "data.val_size=8",
        "train.batch_size=4", "optim.lr=3e-3", "tracking.tensorboard=false", "checkpoint_every=100"]


def test_pretrain_trains_on_every_token_and_its_base_is_format_tuned(tmp_path, demo_file):
    run = tmp_path / "base"
    config = load_config(PretrainConfig, None, [f"run_dir={run}", "max_steps=8", *TINY])
    trainer = PretrainTrainer(config, progress=False)
    first = trainer.stream.micro_batch(0)
    # no prompt: every token but each document's leading BOS is a target
    documents = int((first["input_ids"] == trainer.tokenizer.bos_token_id).sum())
    assert int((first["labels"] != -100).sum()) == first["num_tokens"] - documents
    summary = trainer.train()
    assert summary["eval/loss"] < 5.5
    losses = [r["loss/train"] for r in read_metrics(run / "metrics.jsonl") if "loss/train" in r]
    assert losses[-1] < losses[0]
    corpus = [json.loads(line) for line in (run / "corpus.jsonl").read_text().splitlines()]
    assert {row["kind"] for row in corpus} == {"solution", "drill"}
    meta = json.loads((run / "model" / "satori.json").read_text())
    assert meta["stage"] == "pretrain" and "template" not in meta

    sft = load_config(SFTConfig, None, [f"run_dir={tmp_path / 'sft'}", f"data.path={demo_file}",
                                        f"model.source={run / 'model'}", "data.max_length=160", "data.val_size=4",
                                        "train.batch_size=4", "max_steps=2", "eval.num_generations=2",
                                        "eval.max_new_tokens=8", "tracking.tensorboard=false"])
    tuned = SFTTrainer(sft, progress=False)
    assert tuned.tokenizer.get_vocab() == trainer.tokenizer.get_vocab()  # the base's tokenizer, not a new one
    tuned.train()
    meta = json.loads((tmp_path / "sft" / "model" / "satori.json").read_text())
    assert meta["stage"] == "sft" and meta["template"] == "satori"
