"""The OpenRLHF reward file, loaded by path and called the way openrlhf 0.11.2 calls it, on real completions."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path

import pytest
import torch

from satori.coat import CONTINUE, EXPLORE, REFLECT
from satori.config import load_config
from satori.prompts import build_prompt
from train.openrlhf.export import encode_label
from train.openrlhf.launch import Layout, write_reward_files
from train.rl.config import RLConfig

QUESTION = "Compute 7 * 8."
RIGHT = f"{CONTINUE}7 * 8 = 56.\n{CONTINUE}The answer is \\boxed{{56}}."
WRONG = f"{CONTINUE}7 * 8 = 54.\n{CONTINUE}The answer is \\boxed{{54}}."
PREFIX_OK = f"{CONTINUE}7 * 8 = 56.\n{REFLECT}"
PREFIX_BAD = f"{CONTINUE}7 * 8 = 54.\n{REFLECT}"
EOS = "<|eos|>"

# (restart prefix, response, reflect_status) -> the documented reward, score
CASES = {
    "correct": ("", RIGHT, 0, 0.0, 1.0),
    "wrong": ("", WRONG, 0, -1.0, 0.0),
    "no answer": ("", f"{CONTINUE}7 * 8 is a product.", 0, -1.0, 0.0),
    "repaired an incorrect prefix": (PREFIX_BAD, f"7 * 8 is not 54.\n{EXPLORE}7 * 8 = 56, \\boxed{{56}}.", -1, 0.5, 1.0),
    "kept an incorrect prefix": (PREFIX_BAD, "Looks right. \\boxed{54}", -1, -1.0, 0.0),
    "broke a correct prefix": (PREFIX_OK, f"No.\n{EXPLORE}7 * 8 = 54, \\boxed{{54}}.", 1, -1.5, 0.0),
    "kept a correct prefix": (PREFIX_OK, "Yes, 56 is right. \\boxed{56}", 1, 0.0, 1.0),
    # a restart is graded as prefix + response: the prefix's answer stands unless the response replaces it
    "confirmed a correct prefix": (f"{CONTINUE}\\boxed{{56}}\n{REFLECT}", "Checked.", 1, 0.0, 1.0),
    "let an incorrect prefix stand": (f"{CONTINUE}\\boxed{{54}}\n{REFLECT}", "Checked.", -1, -1.0, 0.0),
    "replaced a correct answer": (f"{CONTINUE}\\boxed{{56}}\n{REFLECT}", "\\boxed{54}", 1, -1.5, 0.0),
}


def _load_reward_file(run_dir: Path, verify_timeout: float):
    """The launcher's copy of the reward file, loaded as OpenRLHF loads it (by path, module "reward_func")."""
    config = load_config(RLConfig, overrides=["reward.bonus_scale=0.5", f"reward.verify_timeout={verify_timeout}"])
    layout = Layout(run_dir)
    write_reward_files(config, layout)
    spec = importlib.util.spec_from_file_location("reward_func", layout.reward_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.settings()["verify_timeout"] == verify_timeout
    return module


@pytest.fixture(scope="module")
def reward_module(tmp_path_factory):
    return _load_reward_file(tmp_path_factory.mktemp("run"), 10.0)


def _sample(tokenizer, prefix: str, response: str) -> tuple[str, str]:
    """(query, prompt) as OpenRLHF builds them: prompt ids + generated ids, decoded with special tokens."""
    prompt = build_prompt(QUESTION, "satori") + prefix
    ids = tokenizer(text=prompt, add_special_tokens=False)["input_ids"] + tokenizer.encode(
        response + EOS, add_special_tokens=False)
    return tokenizer.decode(ids, skip_special_tokens=False), prompt


def test_documented_values_one_sample_per_call(reward_module, tiny_tokenizer):
    """OpenRLHF 0.11.2 calls reward_func once per sample in a thread and wraps "rewards" in a tensor."""
    async def call(query, prompt, label):
        info = await asyncio.to_thread(reward_module.reward_func, [query], [prompt], [label])
        return torch.tensor([info["rewards"]]), torch.tensor([info["scores"]]), info["extra_logs"]

    for name, (prefix, response, status, reward, score) in CASES.items():
        query, prompt = _sample(tiny_tokenizer, prefix, response)
        assert query.startswith(prompt), name
        rewards, scores, logs = asyncio.run(call(query, prompt, encode_label("56", status, prefix)))
        assert rewards.shape == (1,) and rewards.item() == pytest.approx(reward), name
        assert scores.item() == score and logs["accuracy"] == score, name
        assert set(logs) == {"accuracy", "reflection_bonus", "verify_timeout"}


def test_batch_call_and_list_golds(reward_module):
    queries, prompts, labels = [], [], []
    for prefix, response, status, _, _ in CASES.values():
        prompt = build_prompt(QUESTION, "satori") + prefix
        queries.append(prompt + response)
        prompts.append(prompt)
        labels.append(encode_label("56", status, prefix))
    info = reward_module.reward_func(queries, prompts, labels)
    assert info["rewards"].tolist() == [case[3] for case in CASES.values()]
    assert info["extra_logs"]["reflection_bonus"] == pytest.approx((0.5 - 0.5 - 0.5) / len(CASES))
    pair = reward_module.reward_func(["x: \\boxed{1, 2}"], ["x: "], [json.dumps({"gold": ["1", "2"]})])
    assert pair["rewards"].tolist() == [0.0]


def test_left_truncated_prompt_still_finds_the_response(reward_module):
    prompt = build_prompt(QUESTION, "satori") + PREFIX_BAD
    query = prompt[40:] + "\\boxed{56}"  # OpenRLHF cut the prompt's start to fit its length budget
    info = reward_module.reward_func([query], [prompt], [encode_label("56", -1, PREFIX_BAD)])
    assert info["rewards"].tolist() == [0.5]


@pytest.mark.slow
def test_hard_time_limit(tmp_path):
    """An answer sympy would grind on for hours is cut at the configured limit and earns -1."""
    module = _load_reward_file(tmp_path, 1.0)
    endless = "\\boxed{\\sum_{n=1}^{10^{9}} n^{n}}"
    start = time.monotonic()
    info = module.reward_func([f"Q: {endless}"], ["Q: "], [encode_label("1", 0)])
    assert time.monotonic() - start < 5.0
    assert info["rewards"].tolist() == [-1.0] and info["extra_logs"]["verify_timeout"] == 1.0


def test_pinned_openrlhf_calls_reward_func_this_way():
    """The installed OpenRLHF loads ``reward_func`` from a .py remote_url and reads these keys."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None:
        pytest.skip("openrlhf not installed: pip install --no-deps openrlhf==0.11.2")
    source = (Path(next(iter(spec.submodule_search_locations))) / "utils" / "agent.py").read_text()
    assert 'spec_from_file_location("reward_func"' in source and "reward_module.reward_func" in source
    assert "self.reward_func,\n" in source and "queries_list[start_idx:end_idx]" in source
    for key in ('rewards_info.get("rewards")', 'rewards_info.get("scores")', 'rewards_info.get("extra_logs")'):
        assert key in source
    assert "skip_special_tokens=False" in source
