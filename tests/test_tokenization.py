import pytest
import torch

from satori.coat import ACTION_TOKENS
from satori.tiny import build_model, build_tokenizer
from satori.tokenization import action_token_ids, add_action_tokens


def test_tiny_tokenizer_has_single_id_action_tokens(tiny_tokenizer):
    ids = action_token_ids(tiny_tokenizer)
    assert len(set(ids)) == 3
    for token, token_id in zip(ACTION_TOKENS, ids):
        assert tiny_tokenizer.encode(f"x{token}y", add_special_tokens=False).count(token_id) == 1
    text = "<|continue|>3 + 4 = 7<|reflect|>ok \\boxed{7}"
    assert tiny_tokenizer.decode(tiny_tokenizer.encode(text, add_special_tokens=False)) == text


def plain_tokenizer():
    """A byte-level BPE tokenizer that knows the action words but not the action tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(["plain text 1 2 3\ncontinue reflect explore\n"] * 5,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"], show_progress=False,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", pad_token="<eos>")


@pytest.mark.parametrize("tied", [False, True])
def test_added_action_tokens_start_from_their_words_and_the_newline(tied):
    """Each new row is the mean of its word's token rows plus the newline's, in the input embeddings and
    the head alike, so every position scores an action token as its word plus a line break."""
    tokenizer = plain_tokenizer()
    assert action_token_ids(tokenizer) == []
    model = build_model(build_tokenizer(vocab_size=300), hidden_size=64, num_heads=1, tie_word_embeddings=tied)
    model.resize_token_embeddings(len(tokenizer))
    old_rows = model.get_input_embeddings().weight.detach().clone()
    text = tokenizer.encode("plain text 1 2 3\ncontinue", add_special_tokens=False)
    old_logits = model(torch.tensor([text])).logits[0].detach()

    ids = add_action_tokens(tokenizer, model)

    assert ids == [len(old_rows), len(old_rows) + 1, len(old_rows) + 2]
    new = model.get_input_embeddings().weight.detach()
    assert new.shape[0] == len(tokenizer) == len(old_rows) + 3
    assert torch.equal(new[: len(old_rows)], old_rows)
    assert all(not torch.allclose(new[a], new[b]) for a, b in [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])])
    newline = tokenizer.encode("\n", add_special_tokens=False)
    logits = model(torch.tensor([text])).logits[0].detach()
    assert torch.allclose(logits[:, : len(old_rows)], old_logits, atol=1e-5)  # only new ids are new inputs
    for name, token_id in zip(("continue", "reflect", "explore"), ids):
        word = tokenizer.encode(name, add_special_tokens=False)
        assert torch.allclose(new[token_id], old_rows[word].mean(0) + old_rows[newline].mean(0), atol=1e-6)
        assert torch.allclose(logits[:, token_id], old_logits[:, word].mean(1) + old_logits[:, newline].mean(1),
                              atol=1e-4)
    assert add_action_tokens(tokenizer, model) == ids  # idempotent
    assert torch.equal(model.get_input_embeddings().weight.detach(), new)
    out = model(torch.tensor([ids])).logits
    assert out.shape == (1, 3, len(tokenizer)) and torch.isfinite(out).all()


def test_tiny_tokenizer_reloads_from_a_model_folder_unchanged(tmp_path, tiny_tokenizer):
    """AutoTokenizer picks the model type's tokenizer class (Qwen2Tokenizer for qwen2); the tiny
    tokenizer is built with the same pre-tokenization, so the reloaded one encodes identically."""
    from transformers import AutoTokenizer

    text = "<|continue|>Solve: 2 + 13 = 15, so \\boxed{15}.\n<|reflect|>Check: 15 - 13 = 2.<|eos|>"
    for arch in ("qwen2", "llama"):
        folder = tmp_path / arch
        build_model(tiny_tokenizer, arch=arch, hidden_size=64, num_heads=1).save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)
        reloaded = AutoTokenizer.from_pretrained(folder)
        assert reloaded.encode(text) == tiny_tokenizer.encode(text)
        assert len(reloaded) == len(tiny_tokenizer)
        assert reloaded.decode(reloaded.encode(text)) == text
        assert (reloaded.eos_token_id, reloaded.pad_token_id) == (tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id)


def test_token_ends_locate_each_tokens_text(tiny_tokenizer):
    from satori.tokenization import ActionKeepingDecoder

    decoder = ActionKeepingDecoder(tiny_tokenizer)
    text = "<|continue|>12 + 3 = 15.\n<|reflect|>Check: ok."
    ids = tiny_tokenizer.encode(text, add_special_tokens=False) + [tiny_tokenizer.eos_token_id]
    ends = decoder.token_ends(ids)
    assert len(ends) == len(ids) and ends[-1] == ends[-2] == len(text)  # the dropped eos writes nothing
    starts = [0, *ends[:-1]]
    assert [text[a:b] for a, b in zip(starts, ends)] == [decoder([i]) for i in ids]
    accented = tiny_tokenizer.encode("é = 3", add_special_tokens=False)  # é is two byte-level tokens
    assert decoder.token_ends(accented)[-1] == len("é = 3")
    assert decoder.token_ends(accented) == [len(decoder(accented[: i + 1])) for i in range(len(accented))]
