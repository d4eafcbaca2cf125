"""The student scorer: batched, micro-batched log-probs equal one-sequence-at-a-time ones; padding scores 0."""

from __future__ import annotations

import pytest
import torch

from train.teach.scorer import StudentScorer


def test_logprobs_match_single_sequence_computation(tmp_path, tiny_tokenizer, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    scorer = StudentScorer(str(tmp_path), temperature=0.7, threads=1, micro_batch_size=2)
    texts = ["<|continue|>3 + 4 = 7.", "<|continue|>1 + 1 = 2.\n<|reflect|>Check: ok.", "\\boxed{5}"]
    sequences = [tiny_tokenizer.encode(t, add_special_tokens=False) for t in texts]
    width = max(map(len, sequences))
    ids = torch.full((3, width), tiny_tokenizer.pad_token_id)
    attention = torch.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        attention[row, : len(seq)] = 1
    out = scorer.logprobs(ids, attention)
    assert out.shape == (3, width - 1)
    for row, seq in enumerate(sequences):
        with torch.no_grad():
            logits = tiny_model(input_ids=torch.tensor([seq])).logits[0, :-1].float()
        expected = torch.log_softmax(logits / 0.7, -1).gather(-1, torch.tensor(seq[1:]).unsqueeze(-1)).squeeze(-1)
        assert out[row, : len(seq) - 1] == pytest.approx(expected, abs=1e-4)
        assert (out[row, len(seq) - 1:] == 0).all()
    assert not any(p.requires_grad for p in scorer.model.parameters())
