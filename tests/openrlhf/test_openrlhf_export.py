"""The OpenRLHF prompt set: real procedural problems, real restart states from scripted COAT trajectories."""

from __future__ import annotations

import json

import pytest

from data_synthesis.agents import Request, ScriptedGenerator
from data_synthesis.demos import render_demo
from satori.coat import REFLECT
from satori.config import load_config
from satori.io import read_jsonl
from satori.prompts import build_prompt
from train.openrlhf.export import export_prompt_set, sample_trajectories
from train.rl.satori_rl import load_rl_prompts
from train.rl.rae import offline_problems
from train.rl.config import RLConfig
from train.rl.problem_sets import load_problem_set

OVERRIDES = ["data.train_size=12", "data.eval_size=4", "max_steps=3", "rollout.prompts_per_step=8",
             "rae.offline_problems=6", "rae.offline_samples=2", "rae.restart_ratio=0.25", "rae.online=false",
             "rae.max_backtrack=2", "data.max_prompt_len=200", "reward.verify_timeout=10"]


@pytest.fixture(scope="module")
def config() -> RLConfig:
    return load_config(RLConfig, overrides=OVERRIDES)


def _trajectories(problems) -> list[list[str]]:
    """Per problem: a correct COAT solution and one with a realistic slip (scripted generator)."""
    generator = ScriptedGenerator()
    out = []
    for i, problem in enumerate(problems):
        attempts = generator.generate([Request(problem, seed=i, want_mistake=False),
                                       Request(problem, seed=i, want_mistake=True)])
        out.append([render_demo([a], []) for a in attempts])
    return out


@pytest.fixture(scope="module")
def exported(config, tiny_tokenizer, tmp_path_factory):
    train = load_problem_set(config.data.train, config.data.train_size, "train", config.seed)
    offline = offline_problems(train, config.rae.offline_problems, config.seed)
    trajectories = _trajectories(offline)
    out = tmp_path_factory.mktemp("openrlhf")
    summary = export_prompt_set(config, out, tiny_tokenizer, trajectories=trajectories)
    rows = [row for _, row in read_jsonl(summary.train)]
    return summary, rows, {p.id: (p, texts) for p, texts in zip(offline, trajectories)}, train


@pytest.mark.slow  # the export grades trajectories on a fresh verifier pool
def test_training_rows_are_the_run_with_both_kinds_of_restarts(config, exported):
    summary, rows, _, train = exported
    assert summary.rows == len(rows) == config.max_steps * config.rollout.prompts_per_step == 24
    statuses = [row["reflect_status"] for row in rows]
    # pool: 12 plain problems + round(12 * 0.25 / 0.75) = 4 balanced restarts; 24 rows = one pass + 8 more
    assert statuses.count(-1) == summary.restarts[-1] >= 2 and statuses.count(1) == summary.restarts[1] >= 2
    assert 4 <= statuses.count(-1) + statuses.count(1) <= 8
    assert {row["id"] for row in rows if row["reflect_status"] == 0} == {p.id for p in train}
    assert summary.dropped_too_long == 0


@pytest.mark.slow  # the export grades trajectories on a fresh verifier pool
def test_rows_carry_prompt_and_label_in_openrlhf_keys(config, exported, tiny_tokenizer):
    _, rows, sources, train = exported
    by_id = {p.id: p for p in train}
    for row in rows:
        problem = by_id[row["id"]]
        label = json.loads(row["label"])
        head = build_prompt(problem.question, config.data.template, tiny_tokenizer)
        assert row["prompt"].startswith(head)
        assert len(tiny_tokenizer.encode(row["prompt"], add_special_tokens=False)) <= config.data.max_prompt_len
        prefix = row["prompt"][len(head):]
        assert label == {"gold": problem.gold, "reflect_status": row["reflect_status"], **({"prefix": prefix} if prefix else {})}
        if row["reflect_status"] == 0:
            assert prefix == ""
            continue
        # a restart: whole steps of the correct (+1) or the slipped (-1) trajectory, then <|reflect|>
        correct_text, wrong_text = sources[row["id"]][1]
        source = correct_text if row["reflect_status"] == 1 else wrong_text
        assert prefix.endswith(REFLECT) and source.startswith(prefix[: -len(REFLECT)])


@pytest.mark.slow  # the export grades trajectories on a fresh verifier pool
def test_eval_rows_are_plain_test_problems(config, exported):
    summary, _, _, train = exported
    rows = [row for _, row in read_jsonl(summary.eval)]
    assert len(rows) == config.data.eval_size
    assert all(row["reflect_status"] == 0 and json.loads(row["label"])["reflect_status"] == 0 for row in rows)
    assert not {row["id"] for row in rows} & {p.id for p in train}


def test_trajectories_are_sampled_from_the_policy(config, tiny_model, tiny_tokenizer):
    """Near temperature 0 every sample is the policy's argmax continuation of the problem's prompt,
    token for token (here: one forward pass of the policy per token, without the engine)."""
    import torch

    from satori.engines.hf import HFEngine
    from satori.prompts import encode_prompt

    problems = load_problem_set(config.data.train, 2, "train", config.seed)
    cold = load_config(RLConfig, overrides=[*OVERRIDES, "rollout.max_new_tokens=6", "rollout.temperature=1e-6"])
    engine = HFEngine(tiny_model, tiny_tokenizer)
    texts = sample_trajectories(cold, problems, tiny_tokenizer, engine)
    for problem, group in zip(problems, texts):
        ids, argmax = encode_prompt(problem.question, tiny_tokenizer, cold.data.template), []
        with torch.no_grad():
            while len(argmax) < 6 and tiny_tokenizer.eos_token_id not in argmax:
                argmax.append(int(tiny_model(torch.tensor([ids + argmax])).logits[0, -1].argmax()))
        expected = engine.decode(argmax)
        assert expected and group == [expected] * cold.rae.offline_samples == [expected] * 2


@pytest.mark.slow  # the export grades trajectories on a fresh verifier pool
def test_the_restart_set_in_the_official_format_reads_back_as_the_openrlhf_rows(config, exported, tiny_tokenizer):
    """The RAE builder's prompt set, written as official rows, gives back the same prompts, golds and statuses."""
    summary, rows, _, _ = exported
    back = load_rl_prompts(summary.official, tiny_tokenizer)
    assert [(p.question + p.prefix, p.gold, p.reflect_status) for p in back] == \
        [(row["prompt"], json.loads(row["label"])["gold"], row["reflect_status"]) for row in rows]
    assert [p.prefix for p in back] == [json.loads(row["label"]).get("prefix", "") for row in rows]


def test_official_rows_become_the_openrlhf_prompt_set(tmp_path, tiny_tokenizer):
    head = build_prompt("What is 3 + 4?", "satori", tiny_tokenizer)
    official = [{"query": head, "answer": "7"},
                {"query": head + "<|continue|>3 + 4 = 8.\n<|reflect|>", "answer": "7", "reflect_status": -1}]
    path = tmp_path / "rl.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in official))
    config = load_config(RLConfig, overrides=[*OVERRIDES, f"data.train={path}", "data.train_format=satori-rl",
                                              "rae.enabled=false", "max_steps=1", "rollout.prompts_per_step=2"])
    summary = export_prompt_set(config, tmp_path / "out", tiny_tokenizer)
    rows = sorted((row for _, row in read_jsonl(summary.train)), key=lambda row: row["reflect_status"])
    assert [(row["prompt"], json.loads(row["label"])) for row in rows] == [
        (official[1]["query"], {"gold": "7", "reflect_status": -1, "prefix": "<|continue|>3 + 4 = 8.\n<|reflect|>"}),
        (official[0]["query"], {"gold": "7", "reflect_status": 0})]
