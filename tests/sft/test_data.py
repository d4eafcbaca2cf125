"""SFT data: response-only labels, over-length policies, packing boundaries, splits, bad rows."""

from __future__ import annotations

import json

import pytest
import torch

from satori.io import DataError
from satori.prompts import encode_prompt
from train.sft.data import (IGNORE_INDEX, BatchStream, Demo, collate, encode_demos, load_demos, pack_rows,
                            split_by_question)
from train.sft.trainer import response_loss_sum

from sft_demos import make_demos


def demos_from(rows):
    return [Demo(r["id"], r["problem"], r["gold"], r["coat"]) for r in rows]


def test_prompt_tokens_get_ignore_label_and_response_ends_with_eos(tiny_tokenizer):
    demo = demos_from(make_demos(1))[0]
    (example,), stats = encode_demos([demo], tiny_tokenizer, "satori", 512, "drop")
    prompt = encode_prompt(demo.question, tiny_tokenizer, "satori")
    assert example.prompt_ids == prompt
    assert example.response_ids[-1] == tiny_tokenizer.eos_token_id
    assert tiny_tokenizer.decode(example.response_ids[:-1]) == demo.response
    batch = collate([[example]], tiny_tokenizer.pad_token_id)
    labels = batch["labels"][0]
    assert (labels[: len(prompt)] == IGNORE_INDEX).all()
    assert labels[len(prompt):].tolist() == example.response_ids
    assert stats == {"examples": 1, "dropped": 0, "truncated": 0}


def test_overlength_drop_and_truncate_never_cut_the_prompt(tiny_tokenizer):
    demo = demos_from(make_demos(1))[0]
    prompt_len = len(encode_prompt(demo.question, tiny_tokenizer, "satori"))
    limit = prompt_len + 5
    kept, stats = encode_demos([demo], tiny_tokenizer, "satori", limit, "drop")
    assert kept == [] and stats["dropped"] == 1
    (cut,), stats = encode_demos([demo], tiny_tokenizer, "satori", limit, "truncate_response")
    assert stats["truncated"] == 1 and len(cut) == limit
    assert cut.prompt_ids == encode_prompt(demo.question, tiny_tokenizer, "satori")
    assert len(cut.response_ids) == 5 and cut.response_ids[-1] != tiny_tokenizer.eos_token_id
    # a prompt that alone fills max_length is dropped under either policy
    kept, stats = encode_demos([demo], tiny_tokenizer, "satori", prompt_len, "truncate_response")
    assert kept == [] and stats["dropped"] == 1


def test_packed_loss_equals_unpacked_loss(tiny_tokenizer, tiny_model):
    examples, _ = encode_demos(demos_from(make_demos(6)), tiny_tokenizer, "satori", 512, "drop")
    limit = sum(sorted(len(e) for e in examples)[-3:])  # any three examples fit in one row
    rows = pack_rows(examples, max_length=limit, packing=True)
    assert [i for row in rows for i in row] == list(range(6))
    assert 2 <= len(rows) <= 3 and all(len(row) >= 2 for row in rows[:-1])
    assert all(sum(len(examples[i]) for i in row) <= limit for row in rows)
    packed = collate([[examples[i] for i in row] for row in rows], tiny_tokenizer.pad_token_id)
    unpacked = collate([[e] for e in examples], tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        packed_sum, packed_n = response_loss_sum(tiny_model, packed)
        single = [response_loss_sum(tiny_model, collate([[e]], tiny_tokenizer.pad_token_id)) for e in examples]
        unpacked_sum, unpacked_n = response_loss_sum(tiny_model, unpacked)
    assert packed_n == unpacked_n == sum(n for _, n in single) == sum(len(e.response_ids) for e in examples)
    assert packed_sum.item() == pytest.approx(sum(s.item() for s, _ in single), rel=1e-5)
    assert unpacked_sum.item() == pytest.approx(packed_sum.item(), rel=1e-5)


def test_packing_respects_boundaries_in_position_ids(tiny_tokenizer):
    examples, _ = encode_demos(demos_from(make_demos(3)), tiny_tokenizer, "satori", 512, "drop")
    batch = collate([examples], tiny_tokenizer.pad_token_id)
    starts = torch.nonzero(batch["position_ids"][0] == 0).flatten().tolist()
    assert starts == [0, len(examples[0]), len(examples[0]) + len(examples[1])]
    assert batch["num_tokens"] == sum(len(e) for e in examples)
    # the first token of each example is a prompt token, so no loss crosses a boundary
    assert all(batch["labels"][0, s] == IGNORE_INDEX for s in starts)


def test_batch_stream_is_a_pure_function_of_position(tiny_tokenizer):
    examples, _ = encode_demos(demos_from(make_demos(10)), tiny_tokenizer, "satori", 512, "drop")
    first = BatchStream(examples, 3, 512, False, tiny_tokenizer.pad_token_id, seed=1)
    second = BatchStream(examples, 3, 512, False, tiny_tokenizer.pad_token_id, seed=1)
    assert first.batches_per_epoch == 4
    for index in (0, 5, 2, 9):  # out of order, across epochs
        assert torch.equal(first.micro_batch(index)["input_ids"], second.micro_batch(index)["input_ids"])
    epoch_rows = sum(first.micro_batch(i)["input_ids"].shape[0] for i in range(4))
    assert epoch_rows == 10


def test_split_holds_out_whole_questions():
    rows = make_demos(40)
    rows += [dict(r, id=r["id"] + "-b") for r in rows[:10]]  # a second demo for some questions
    train, val = split_by_question(demos_from(rows), 5, seed=0)
    assert len({d.question for d in val}) == 5
    assert not {d.question for d in train} & {d.question for d in val}
    assert len(train) + len(val) == len(rows)


def test_bad_rows_name_file_and_line(tmp_path):
    path = tmp_path / "demos.jsonl"
    good = make_demos(1)[0]
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "coat": ""}) + "\n")
    with pytest.raises(DataError, match=r"demos.jsonl:2: missing or empty field 'coat'"):
        load_demos(str(path))
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DataError, match=r"demos.jsonl:2"):
        load_demos(str(path))
    with pytest.raises(DataError, match="not found"):
        load_demos(str(tmp_path / "missing.jsonl"))


def test_column_mapping_reads_other_layouts(tmp_path):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([{"question": "1+1?", "answer": "2", "response": "<|continue|>\\boxed{2}"}]))
    (demo,) = load_demos(str(path), question_field="question", response_field="response", gold_field="answer")
    assert (demo.question, demo.gold, demo.response) == ("1+1?", "2", "<|continue|>\\boxed{2}")



def test_the_loss_runs_where_the_model_is(tiny_tokenizer):
    """Batches are collated on the CPU; the loss moves them to the model's device (a GPU in real runs).
    Here a stand-in LM on the ``meta`` device records where its inputs arrive."""
    from types import SimpleNamespace

    class MetaLM(torch.nn.Module):
        device = torch.device("meta")

        def forward(self, input_ids, position_ids, use_cache):
            self.seen = {input_ids.device.type, position_ids.device.type}
            return SimpleNamespace(logits=torch.zeros(*input_ids.shape, 7, device="meta"))

    examples, _ = encode_demos(demos_from(make_demos(2)), tiny_tokenizer, "satori", 512, "drop")
    batch = collate([[e] for e in examples], tiny_tokenizer.pad_token_id)
    model = MetaLM()
    loss, count = response_loss_sum(model, batch)
    assert model.seen == {"meta"} and loss.device.type == "meta"
    assert count == sum(len(e.response_ids) for e in examples)
