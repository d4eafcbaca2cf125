"""Format tuning on rows in the official Satori FT format (``query``/``response``/``type``)."""

from __future__ import annotations

import json

import pytest

from data_synthesis.cli import write_satori_ft
from satori.cli import main
from satori.coat import ACTION_TOKENS
from sft_demos import write_demos
from train.sft.config import SFTDataConfig
from train.sft.data import encode_demos, load_demos


def official_file(folder, count: int):
    """``count`` synthesized-style demonstrations rewritten as official FT rows by ``satori synth --format satori-ft``."""
    write_demos(folder / "demos.jsonl", count)
    return write_satori_ft(folder)


def test_official_rows_load_and_tokenize_as_the_synthesized_demonstrations(tmp_path, tiny_tokenizer):
    path = official_file(tmp_path, 12)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {"query", "response", "type"} <= set(rows[0]) and rows[0]["type"] in ("correct", "explore")
    native = load_demos(str(tmp_path / "demos.jsonl"))
    official = load_demos(str(path), *SFTDataConfig(format="satori-ft").fields(), data_format="satori-ft")
    assert [(d.id, d.question, d.gold, d.response) for d in official] == \
        [(d.id, d.question, d.gold, d.response) for d in native]
    encoded, _ = encode_demos(official, tiny_tokenizer, "satori", 256, "drop")
    expected, _ = encode_demos(native, tiny_tokenizer, "satori", 256, "drop")
    assert [(e.prompt_ids, e.response_ids) for e in encoded] == [(e.prompt_ids, e.response_ids) for e in expected]
    action_ids = {tiny_tokenizer.convert_tokens_to_ids(t) for t in ACTION_TOKENS}
    steps = sum(official[0].response.count(t) for t in ACTION_TOKENS)
    assert sum(i in action_ids for i in encoded[0].response_ids) == steps   # one special token per action


def test_column_map_renames_an_official_column(tmp_path):
    path = tmp_path / "ft.jsonl"
    path.write_text(json.dumps({"prompt": "1+1?", "response": "<|continue|>\\boxed{2}", "type": "x"}) + "\n")
    fields = SFTDataConfig(format="satori-ft", question_field="prompt").fields()
    (demo,) = load_demos(str(path), *fields, data_format="satori-ft")
    assert (demo.question, demo.response, demo.gold) == ("1+1?", "<|continue|>\\boxed{2}", None)


@pytest.mark.slow
def test_satori_sft_trains_on_an_official_ft_file_and_refuses_one_in_another_schema(tmp_path, capsys):
    path = official_file(tmp_path, 40)
    args = ["sft", f"run_dir={tmp_path / 'run'}", f"data.path={path}", "data.format=satori-ft", "max_steps=2",
            "model.tiny.vocab_size=400", "model.tiny.hidden_size=64", "model.tiny.num_heads=1", "data.max_length=160",
            "data.val_size=4", "train.batch_size=4", "eval.num_generations=2", "eval.max_new_tokens=8",
            "tracking.tensorboard=false", "threads=1"]
    assert main(args) == 0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert main([*args, f"run_dir={tmp_path / 'wrong'}", f"data.path={tmp_path / 'demos.jsonl'}"]) == 2
    error = capsys.readouterr().err
    assert f"satori sft: {tmp_path / 'demos.jsonl'}: not in the satori-ft format: expected columns " \
           "['query', 'response'], found" in error


@pytest.mark.slow
def test_satori_synth_format_flag_writes_the_demonstrations_as_official_rows(tmp_path):
    run = tmp_path / "synth"
    assert main(["synth", f"run_dir={run}", "source.procedural.n=6", "agents.verifier_workers=1",
                 "agents.verifier_warm_up=false", "progress=false", "--format", "satori-ft"]) == 0
    demos = [json.loads(line) for line in (run / "demos.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (run / "satori_ft.jsonl").read_text().splitlines()]
    assert demos and [(r["id"], r["query"], r["response"], r["type"], r["answer"]) for r in rows] == \
        [(d["id"], d["problem"], d["coat"], d["kind"], d["gold"]) for d in demos]


def test_an_official_parquet_file_loads(tmp_path):
    import datasets

    rows = [{"query": "What is 2 + 3?", "response": "<|continue|>2 + 3 = \\boxed{5}.", "type": "correct"}]
    datasets.Dataset.from_list(rows).to_parquet(tmp_path / "ft.parquet")
    (demo,) = load_demos(str(tmp_path / "ft.parquet"), *SFTDataConfig(format="satori-ft").fields(),
                         data_format="satori-ft")
    assert (demo.question, demo.response) == ("What is 2 + 3?", "<|continue|>2 + 3 = \\boxed{5}.")
