"""Scoring with a saved outcome reward model: transformers' own class agrees, padding changes nothing."""

from __future__ import annotations

import pytest
import torch

from satori.orm import RewardModel, encode_scored, last_token_scores
from satori.prompts import build_prompt

QUESTIONS = ["What is 2 + 3?", "What is 7 + 8?", "What is 1 + 1?"]
RESPONSES = ["<|continue|>2 + 3 = 5.\n<|continue|>\\boxed{5}", "<|continue|>\\boxed{14}", "<|continue|>1 + 1 = 2. So \\boxed{2}"]


def test_scores_equal_transformers_sequence_classification_one_row_at_a_time(tiny_orm_dir):
    from transformers import AutoModelForSequenceClassification

    orm = RewardModel(str(tiny_orm_dir), batch_size=2)
    batched = orm.score(QUESTIONS, RESPONSES)
    reference = AutoModelForSequenceClassification.from_pretrained(tiny_orm_dir).eval()
    for question, response, score in zip(QUESTIONS, RESPONSES, batched):
        ids = torch.tensor([encode_scored(orm.tokenizer, build_prompt(question), response, 256)[0]])
        with torch.no_grad():
            expected = reference(input_ids=ids).logits[0, 0].item()   # transformers pools the last token
        assert score == pytest.approx(expected, abs=1e-5)
    assert len(set(batched)) == 3


def test_left_padding_does_not_change_a_score(tiny_orm_dir):
    orm = RewardModel(str(tiny_orm_dir))
    ids = [encode_scored(orm.tokenizer, build_prompt(q), r, 256)[0] for q, r in zip(QUESTIONS, RESPONSES)]
    with torch.no_grad():
        together = last_token_scores(orm.model, ids, orm.pad_id)
        alone = torch.cat([last_token_scores(orm.model, [row], orm.pad_id) for row in ids])
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.fixture(scope="module")
def likelihood_orm_dir(tmp_path_factory, tiny_tokenizer, tiny_policy_dir):
    """The tiny policy itself saved as a likelihood-scored reward model."""
    from transformers import AutoModelForCausalLM

    from satori.models import write_satori_meta

    path = tmp_path_factory.mktemp("likelihood_orm")
    AutoModelForCausalLM.from_pretrained(tiny_policy_dir).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    write_satori_meta(path, {"stage": "rm", "template": "satori", "max_length": 256, "score": "likelihood",
                             "score_scale": 2.0})
    return path


def test_a_likelihood_score_is_the_scaled_mean_log_probability_of_the_response(likelihood_orm_dir):
    from transformers import AutoModelForCausalLM

    orm = RewardModel(str(likelihood_orm_dir), batch_size=2)
    assert orm.scorer.kind == "likelihood" and type(orm.model).__name__.endswith("ForCausalLM")
    batched = orm.score(QUESTIONS, RESPONSES)
    reference = AutoModelForCausalLM.from_pretrained(likelihood_orm_dir).eval()
    for question, response, score in zip(QUESTIONS, RESPONSES, batched):
        prompt = orm.tokenizer.encode(build_prompt(question), add_special_tokens=False)
        answer = orm.tokenizer.encode(response, add_special_tokens=False)
        ids = torch.tensor([prompt + answer])
        with torch.no_grad():
            logprobs = torch.log_softmax(reference(input_ids=ids).logits[0, :-1], dim=-1)
        per_token = logprobs[len(prompt) - 1:].gather(-1, ids[0, len(prompt):, None])
        assert score == pytest.approx(2.0 * per_token.mean().item(), abs=1e-4)
    assert len(set(batched)) == 3


def test_an_unknown_score_kind_is_named(tmp_path, likelihood_orm_dir):
    import shutil

    from satori.models import read_satori_meta, write_satori_meta

    folder = tmp_path / "orm"
    shutil.copytree(likelihood_orm_dir, folder)
    write_satori_meta(folder, {**read_satori_meta(folder), "score": "mean"})
    with pytest.raises(ValueError, match="unknown reward-model score 'mean'"):
        RewardModel(str(folder))


def test_a_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one with `satori rm`"):
        RewardModel(str(tmp_path))
