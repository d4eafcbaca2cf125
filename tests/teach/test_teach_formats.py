"""Teacher/student layouts, the explanation's end in token ids, and the teacher config."""

from __future__ import annotations

import pytest

from satori.config import ConfigError, load_config
from satori.prompts import build_prompt
from train.teach.config import TeachConfig
from train.teach.formats import explanation_length, student_view, teacher_prompt, teacher_target

QUESTION, SOLUTION = "Compute 3 + 4.", "3 + 4 = 7. The answer is \\boxed{7}."
EXPLANATION = "<|continue|>Add 3 and 4: 7.\n<|continue|>The answer is \\boxed{7}."


@pytest.fixture(scope="module")
def fmt():
    return load_config(TeachConfig, None, ["format.solution_open=<sol>", "format.solution_close=</sol>",
                                           "format.explanation_open=<exp>", "format.explanation_close=</exp>",
                                           "format.system_prompt=Explain."]).format


def test_teacher_prompt_prefills_solution_and_opening_tag(fmt):
    assert teacher_prompt(fmt, QUESTION, SOLUTION) == f"Explain.\nProblem: {QUESTION}\n<sol>{SOLUTION}</sol>\n<exp>"
    assert teacher_target(fmt, EXPLANATION) == EXPLANATION + "</exp>"
    plain = load_config(TeachConfig, None, ["format.variant=plain"]).format
    assert plain.system.startswith("You are a teacher") and "action" not in plain.system


def test_explanation_ends_where_the_closing_tag_starts(fmt, tiny_tokenizer):
    tok = tiny_tokenizer
    ids = tok.encode(EXPLANATION + "</exp> trailing", add_special_tokens=False) + [tok.eos_token_id]
    k, closed = explanation_length(ids, tok, "</exp>")
    assert closed and tok.decode(ids[:k], skip_special_tokens=False) == EXPLANATION
    open_ids = tok.encode(EXPLANATION, add_special_tokens=False) + [tok.eos_token_id]
    assert explanation_length(open_ids, tok, "</exp>") == (len(open_ids) - 1, False)
    assert explanation_length(tok.encode("</exp>", add_special_tokens=False), tok, "</exp>") == (0, True)


def test_student_view_places_explanation_tokens_then_solution(fmt, tiny_tokenizer):
    tok = tiny_tokenizer
    explanation_ids = tok.encode(EXPLANATION, add_special_tokens=False)
    view = student_view(fmt, tok, QUESTION, explanation_ids, SOLUTION)
    (e0, e1), (s0, s1) = view.explanation, view.solution
    assert view.input_ids[e0:e1] == explanation_ids
    assert tok.decode(view.input_ids[:e0]) == build_prompt(QUESTION, "satori")
    assert tok.decode(view.input_ids[s0:s1]) == SOLUTION and s1 == len(view.input_ids)
    assert tok.decode(view.input_ids[e1:s0]) == "\n<sol>"


@pytest.mark.parametrize("override, key", [
    ("format.explanation_close=", "format.explanation_close"),
    ("model.student=some/folder", "model.student"),
    ("rollout.samples_per_prompt=1", "rollout.samples_per_prompt"),
    ("reward.format_penalty=1", "reward.format_penalty"),
    ("distill.samples_per_problem=4", "distill.samples_per_problem"),
])
def test_bad_settings_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(TeachConfig, None, [override])


def test_defaults_follow_the_published_recipe():
    config = load_config(TeachConfig, None, [])
    assert (config.rollout.samples_per_prompt, config.rollout.temperature) == (64, 0.7)
    assert (config.algo.advantage, config.algo.kl_coef, config.algo.actor_lr) == ("grpo", 0.04, 1e-6)
    assert (config.reward.alpha, config.reward.kl_weight, config.reward.format_penalty) == (0.01, 3.0, -1.0)
    rl = config.rl_config("teacher/folder")
    assert rl.model.policy == "teacher/folder" and not rl.rae.enabled and rl.rollout is config.rollout
