"""Scoring with a saved outcome reward model: transformers' own class agrees, padding changes nothing."""

from __future__ import annotations

import pytest
import torch

from satori.orm import RewardModel, encode_pair, last_token_scores
from satori.prompts import build_prompt

QUESTIONS = ["What is 2 + 3?", "What is 7 + 8?", "What is 1 + 1?"]
RESPONSES = ["<|continue|>2 + 3 = 5.\n<|continue|>\\boxed{5}", "<|continue|>\\boxed{14}", "<|continue|>1 + 1 = 2. So \\boxed{2}"]


def test_scores_equal_transformers_sequence_classification_one_row_at_a_time(tiny_orm_dir):
    from transformers import AutoModelForSequenceClassification

    orm = RewardModel(str(tiny_orm_dir), batch_size=2)
    batched = orm.score(QUESTIONS, RESPONSES)
    reference = AutoModelForSequenceClassification.from_pretrained(tiny_orm_dir).eval()
    for question, response, score in zip(QUESTIONS, RESPONSES, batched):
        ids = torch.tensor([encode_pair(orm.tokenizer, build_prompt(question), response, 256)])
        with torch.no_grad():
            expected = reference(input_ids=ids).logits[0, 0].item()   # transformers pools the last token
        assert score == pytest.approx(expected, abs=1e-5)
    assert len(set(batched)) == 3


def test_left_padding_does_not_change_a_score(tiny_orm_dir):
    orm = RewardModel(str(tiny_orm_dir))
    ids = [encode_pair(orm.tokenizer, build_prompt(q), r, 256) for q, r in zip(QUESTIONS, RESPONSES)]
    with torch.no_grad():
        together = last_token_scores(orm.model, ids, orm.pad_id)
        alone = torch.cat([last_token_scores(orm.model, [row], orm.pad_id) for row in ids])
    assert torch.allclose(together, alone, atol=1e-5)


def test_a_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one with `satori rm`"):
        RewardModel(str(tmp_path))
