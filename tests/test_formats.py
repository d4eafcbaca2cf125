"""The official Satori data formats: schema errors, reflect_status, restart rows read as native restarts,
and the round trip of a RAE restart set through the official RL format."""

from __future__ import annotations

import copy
import json

import pytest

from satori.formats import SchemaError, reflect_status_of, split_restart_query
from satori.grading import verify_batch
from satori.io import DataError
from train.rl.config import RewardConfig
from train.rl.rae import RestartBuffer, RolloutPrompt, encode_rollout_prompt, restart_from
from train.rl.reward import Graded, reward_terms
from train.rl.satori_rl import load_rl_prompts, write_rl_prompts
from train.sft.data import load_demos

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
RIGHT = "<|continue|>3 + 4 = 7.\n<|continue|>Then 7 + 5 = 12.\n<|continue|>So the sum is \\boxed{12}.\n<|continue|>Done."
WRONG = "<|continue|>3 + 4 = 8.\n<|continue|>Then 8 + 5 = 13.\n<|continue|>So the sum is \\boxed{13}.\n<|continue|>Done."


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def chat_tokenizer(tiny_tokenizer):
    tokenizer = copy.deepcopy(tiny_tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def native_prompts() -> list[RolloutPrompt]:
    """Plain prompts and restart states cut by the RAE buffer from a correct and a wrong trajectory."""
    plain = [RolloutPrompt("p1", "What is 3 + 4 + 5?", "12"), RolloutPrompt("p2", "Solve x^2 = 4.", ["2", "-2"])]
    buffer = RestartBuffer(capacity=8, min_backtrack=1, max_backtrack=2, seed=0)
    for _ in range(3):
        assert buffer.add(plain[0], RIGHT, correct=True) and buffer.add(plain[0], WRONG, correct=False)
    restarts = buffer.sample(6)
    assert {p.reflect_status for p in restarts} == {1, -1}
    return plain + restarts


# ------------------------------------------------------------------------------ schemas
def test_a_file_in_the_wrong_schema_names_the_file_and_the_columns_expected_and_found(tmp_path, tiny_tokenizer):
    demos = write_jsonl(tmp_path / "demos.jsonl", [{"problem": "1+1?", "coat": "<|continue|>\\boxed{2}", "gold": "2"}])
    with pytest.raises(SchemaError, match=r"demos.jsonl: not in the satori-ft format: expected columns "
                                          r"\['query', 'response'\], found \['coat', 'gold', 'problem'\]"):
        load_demos(str(demos), "query", "response", "answer", data_format="satori-ft")
    rl = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "1+1?", "label": "2"}])
    with pytest.raises(SchemaError, match=r"prompts.jsonl: not in the satori-rl format: expected columns "
                                          r"\['query', 'answer'\], found \['label', 'prompt'\]"):
        load_rl_prompts(rl, tiny_tokenizer)
    official = write_jsonl(tmp_path / "ft.jsonl", [{"query": "1+1?", "response": "<|continue|>\\boxed{2}", "type": "x"}])
    with pytest.raises(SchemaError, match=r"not in the satori format: expected columns \['problem', 'coat'\]"):
        load_demos(str(official))   # the native format's columns: the message says which format was assumed


def test_reflect_status_missing_means_0_and_a_bad_value_names_its_line(tmp_path, tiny_tokenizer):
    assert [reflect_status_of(v, "f:1") for v in (None, float("nan"), 0, 1, -1, 1.0, "-1", "+1")] == \
        [0, 0, 0, 1, -1, 1, -1, 1]
    for bad in (2, True, "yes", 0.5):
        with pytest.raises(DataError, match="f:1: reflect_status must be -1, 0 or 1"):
            reflect_status_of(bad, "f:1")
    path = write_jsonl(tmp_path / "rl.jsonl", [{"query": "Q1\n", "answer": "1"},
                                              {"query": "Q2\n", "answer": "2", "reflect_status": 3}])
    with pytest.raises(DataError, match=r"rl.jsonl:2: reflect_status must be"):
        load_rl_prompts(path, tiny_tokenizer)
    write_jsonl(path, [{"query": "Q1\n", "answer": "1"}])
    assert load_rl_prompts(path, tiny_tokenizer) == [RolloutPrompt("rl-0", "Q1\n", "1", templated=True)]


def test_a_restart_row_must_end_in_reflect(tmp_path, tiny_tokenizer):
    path = write_jsonl(tmp_path / "rl.jsonl", [{"query": "Q\n<|continue|>x = 1.", "answer": "1", "reflect_status": -1}])
    with pytest.raises(DataError, match=r"rl.jsonl:1: reflect_status -1 marks a restart, but the query does not "
                                        r"end in <\|reflect\|>"):
        load_rl_prompts(path, tiny_tokenizer)


def test_the_trajectory_starts_after_the_assistant_turn_or_at_the_first_action_token():
    marker = "<|im_end|>\n<|im_start|>assistant\n"
    query = f"<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nLet me see.\n<|continue|>x = 1.\n<|reflect|>\n"
    assert split_restart_query(query, marker) == (query[: query.index("Let")], "Let me see.\n<|continue|>x = 1.\n<|reflect|>")
    assert split_restart_query(query) == (query[: query.index("<|continue|>")], "<|continue|>x = 1.\n<|reflect|>")
    assert split_restart_query("Q <|reflect|>") is None   # no trajectory before the final <|reflect|>


# ------------------------------------------------------------------------------ RL rows = native prompts
@pytest.mark.parametrize("template", ["satori", "chat"])
def test_a_rae_restart_set_written_in_the_official_format_reads_back_as_the_same_prompts(
        tmp_path, tiny_tokenizer, chat_tokenizer, template):
    tokenizer = chat_tokenizer if template == "chat" else tiny_tokenizer
    prompts = native_prompts()
    path = write_rl_prompts(tmp_path / "restarts.jsonl", prompts, template, tokenizer)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(row) == {"query", "answer", "reflect_status"} for row in rows)
    assert all(row["query"].endswith("<|reflect|>") == (row["reflect_status"] != 0) for row in rows)
    back = load_rl_prompts(path, tokenizer)
    assert [(p.gold, p.reflect_status, p.prefix) for p in back] == \
        [(p.gold, p.reflect_status, p.prefix) for p in prompts]
    assert [encode_rollout_prompt(p, tokenizer, "unused {question}") for p in back] == \
        [encode_rollout_prompt(p, tokenizer, template) for p in prompts]
    again = write_rl_prompts(tmp_path / "again.jsonl", back, template, tokenizer)
    assert again.read_text() == path.read_text()


def test_a_restart_row_earns_the_bonus_a_native_restart_earns(tmp_path, tiny_tokenizer):
    """Graded as the PPO driver grades a restart (prefix + response), rewarded by the same terms."""
    plain = RolloutPrompt("p", "What is 3 + 4 + 5?", "12")
    native = [restart_from(plain, RIGHT, True, 1), restart_from(plain, WRONG, False, 1)]   # prefixes hold the box
    responses = ["<|continue|>Both steps hold.", "<|explore|>Instead, 3 + 4 = 7 and 7 + 5 = \\boxed{12}.",
                 "<|continue|>So it is \\boxed{13}."]

    def rewards(prompts):
        pairs = [(p.prefix + r, p.gold) for p in prompts for r in responses]
        statuses = [p.reflect_status for p in prompts for _ in responses]
        return [reward_terms(Graded(v.status == "correct", s), RewardConfig(bonus_scale=0.5))
                for v, s in zip(verify_batch(pairs), statuses)]

    official = load_rl_prompts(write_rl_prompts(tmp_path / "rl.jsonl", native, "satori", tiny_tokenizer), tiny_tokenizer)
    assert [p.reflect_status for p in official] == [1, -1]
    expected = rewards(native)
    assert rewards(official) == expected
    # confirming a correct prefix keeps it (no penalty), repairing a wrong one earns +0.5, breaking a correct one -0.5
    assert [t["reward/reflection"] for t in expected] == [0.0, 0.0, -0.5, 0.0, 0.5, 0.0]
    assert [t["reward/total"] for t in expected] == [0.0, 0.0, -1.5, -1.0, 0.5, -1.0]
