"""Checkpoints: HF folder + training state round trip, atomic swap, keep-last pruning."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from satori.models import read_satori_meta
from train.checkpoint import (TRAINING_STATE_FILE, latest_checkpoint, list_checkpoints, load_training_state,
                              save_checkpoint)


def trained_optimizer(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    ids = torch.arange(12).reshape(2, 6)
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return optimizer, scheduler


def test_round_trip_restores_weights_optimizer_scheduler_and_rng(tmp_path, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    from satori.tiny import build_model

    model = build_model(tiny_tokenizer, hidden_size=64, num_layers=1, num_heads=1)
    optimizer, scheduler = trained_optimizer(model)
    torch.manual_seed(7), random.seed(7), np.random.seed(7)
    folder = save_checkpoint(tmp_path, 3, model, tiny_tokenizer, optimizer=optimizer, scheduler=scheduler,
                             data_state={"micro_batch": 3}, extra={"note": "x"}, meta={"source": "tiny"})
    expected_draws = (torch.rand(3), random.random(), np.random.rand())

    loaded = AutoModelForCausalLM.from_pretrained(folder)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    new_optimizer = torch.optim.AdamW(loaded.parameters(), lr=1e-3)
    new_scheduler = torch.optim.lr_scheduler.LambdaLR(new_optimizer, lambda step: 1.0 / (step + 1))
    state = load_training_state(folder, new_optimizer, new_scheduler)
    assert (state.step, state.data_state, state.extra) == (3, {"micro_batch": 3}, {"note": "x"})
    assert new_scheduler.last_epoch == 1 and new_optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    for a, b in zip(optimizer.state.values(), new_optimizer.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    draws = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(draws[0], expected_draws[0]) and draws[1:] == expected_draws[1:]
    assert read_satori_meta(folder) == {"source": "tiny"}
    assert tiny_tokenizer.__class__.from_pretrained(folder).get_vocab() == tiny_tokenizer.get_vocab()


def test_keep_checkpoints_and_latest_ignore_partial_folders(tmp_path, tiny_tokenizer, tiny_model):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, tiny_model, tiny_tokenizer, keep_checkpoints=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-000002", "checkpoint-000003"]
    partial = tmp_path / "checkpoint-000009"  # a folder without training state is not complete
    partial.mkdir()
    (tmp_path / ".tmp-checkpoint-000010-1").mkdir()  # left by a killed writer
    assert latest_checkpoint(tmp_path).name == "checkpoint-000003"
    again = save_checkpoint(tmp_path, 3, tiny_model, tiny_tokenizer, extra={"second": True}, keep_checkpoints=2)
    assert load_training_state(again).extra == {"second": True}
    assert not list(tmp_path.glob(".tmp-*"))
    assert (again / TRAINING_STATE_FILE).is_file()
    assert latest_checkpoint(tmp_path / "missing") is None


def test_a_run_folder_with_a_checkpoint_is_resumed_or_refused(tmp_path):
    from satori.config import ConfigError
    from train.checkpoint import checkpoint_to_resume

    assert checkpoint_to_resume(tmp_path, resume=False) is None
    (tmp_path / "checkpoint-000004").mkdir()
    (tmp_path / "checkpoint-000004" / TRAINING_STATE_FILE).write_bytes(b"")
    assert checkpoint_to_resume(tmp_path, resume=True).name == "checkpoint-000004"
    with pytest.raises(ConfigError, match=r"key 'resume': .* already holds checkpoint-000004; set resume=true"):
        checkpoint_to_resume(tmp_path, resume=False)
