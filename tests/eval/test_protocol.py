"""`satori eval --protocol satori-paper`: the paper's prompt, decoding and extraction in one switch."""

from __future__ import annotations

import copy
import json

import pytest

from satori.cli import main
from satori.config import ConfigError, load_config
from satori.grading import VerifierPool
from satori.problems import Problem
from satori.prompts import SATORI_INSTRUCTION

from eval.config import EvalConfig
from eval.harness import PendingProblem, generate_and_grade
from eval.protocol import graded_text
from test_harness import ScriptedEngine

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
BASE = ["models=[{path: x}]", "benchmarks=[gsm8k]"]


def test_only_the_last_box_is_read():
    assert graded_text("\\boxed{3}, then \\boxed{4}", "satori-paper") == "\\boxed{4}"
    assert graded_text("x = \\boxed{\\frac{1}{2}} done", "satori-paper") == "\\boxed{\\frac{1}{2}}"
    assert graded_text("The answer is 12.", "satori-paper") == ""
    assert graded_text("The answer is 12.", None) == "The answer is 12."


def test_the_protocol_fixes_prompt_and_decoding_and_refuses_other_settings():
    config = load_config(EvalConfig, None, [*BASE, "protocol=satori-paper"])
    assert (config.template, config.sampling.temperature, config.sampling.n, config.sampling.max_new_tokens) == \
        ("chat", 0.0, 1, 4096)
    for override, key in (("sampling.max_new_tokens=512", "sampling.max_new_tokens"),
                          ("sampling.temperature=0.6", "sampling.temperature"), ("template=auto", "template"),
                          ("models=[{path: x, template: satori}]", "models\\[\\].template")):
        with pytest.raises(ConfigError, match=f"key '{key}': .*protocol satori-paper fixes"):
            load_config(EvalConfig, None, [*BASE, "protocol=satori-paper", override])
    with pytest.raises(ConfigError, match="key 'protocol': unknown protocol 'paper'"):
        load_config(EvalConfig, None, [*BASE, "protocol=paper"])


@pytest.mark.slow
def test_a_stated_answer_without_a_box_does_not_count_under_the_paper_protocol():
    texts = ["<|continue|>3 + 4 = 7. The answer is 7.", "<|continue|>\\boxed{8}, no: \\boxed{7}"]
    problems = [Problem(id=str(i), question="3 + 4?", gold="7") for i in range(2)]
    batch = [PendingProblem("toy", p, "Q", [1, 2], [0]) for p in problems]
    verdicts = {}
    for protocol in (None, "satori-paper"):
        config = load_config(EvalConfig, None, [*BASE, f"protocol={json.dumps(protocol)}"])
        with VerifierPool(workers=1, timeout=5.0) as grader:
            rows = generate_and_grade(ScriptedEngine(texts), batch, config, grader, "scripted")
        verdicts[protocol] = [(r["correct"], r["status"]) for r in rows]
    assert verdicts[None] == [(True, "correct"), (True, "correct")]
    assert verdicts["satori-paper"] == [(False, "unparseable"), (True, "correct")]


@pytest.fixture
def quiet_checkpoint(tiny_tokenizer, tmp_path):
    """A tiny chat checkpoint that ends every completion at once (its final norm is zero, so the greedy token
    is id 0, which its tokenizer names end of sequence): 4096 new tokens cost nothing."""
    from satori.tiny import build_model

    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(0)
    model = build_model(tokenizer, seed=0)
    model.model.norm.weight.data.zero_()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.slow
def test_the_cli_switch_records_the_protocol_in_the_summary(quiet_checkpoint, tmp_path, capsys):
    args = ["eval", "--model", f"m={quiet_checkpoint}", "--benchmarks", "procedural:arith", "--limit", "2",
            "--out", str(tmp_path / "out"), "--no-progress", "--protocol", "satori-paper"]
    assert main(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["protocol"] == {"name": "satori-paper", "template": "chat", "max_new_tokens": 4096,
                                   "temperature": 0.0, "n": 1, "answer": "last_boxed"}
    assert summary["settings"]["max_new_tokens"] == 4096 and summary["settings"]["temperature"] == 0.0
    rows = [json.loads(line) for line in (tmp_path / "out" / "m" / "samples.jsonl").read_text().splitlines()]
    instruction = SATORI_INSTRUCTION.split("{question}")[0].replace("{{}}", "{}")
    assert rows and all(r["prompt"].startswith(f"<|im_start|>user\n{instruction}") for r in rows)
    assert all(r["prompt"].endswith("<|im_start|>assistant\n") for r in rows)
    assert main([*args[:-2], "--out", str(tmp_path / "other"), "--protocol", "satori-paper",
                 "--max-new-tokens", "8"]) == 2
    assert "key 'sampling.max_new_tokens': protocol satori-paper fixes it to 4096" in capsys.readouterr().err
