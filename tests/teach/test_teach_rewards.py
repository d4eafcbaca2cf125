"""The teacher's reward terms on hand-computed log-probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from train.teach.rewards import explanation_kl, mean_plus_extreme, solution_score, teacher_reward

NAN = float("nan")


def test_mean_plus_alpha_min_and_max_over_masked_tokens():
    x = torch.tensor([[-1.0, -2.0, -6.0, 100.0], [-0.5, NAN, NAN, NAN]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    # row 0: mean(-1, -2, -6) = -3, min -6, max -1; row 1: one token -0.5 (NaN padding ignored)
    assert mean_plus_extreme(x, mask, 0.5, "min").tolist() == pytest.approx([-3 + 0.5 * -6, -0.5 + 0.5 * -0.5])
    assert mean_plus_extreme(x, mask, 0.5, "max").tolist() == pytest.approx([-3 + 0.5 * -1, -0.5 + 0.5 * -0.5])
    assert mean_plus_extreme(x, mask, 0.0, "min").tolist() == pytest.approx([-3.0, -0.5])


def test_empty_mask_reduces_to_zero_and_unknown_reduction_is_refused():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[0, 0], [0, 1]], dtype=torch.bool)
    assert mean_plus_extreme(x, mask, 0.01, "max").tolist() == pytest.approx([0.0, 4.0 + 0.04])
    with pytest.raises(ValueError, match="extreme"):
        mean_plus_extreme(x, mask, 0.01, "median")


def test_solution_score_is_student_loglik_of_solution_tokens_mean_plus_alpha_min():
    student = torch.log(torch.tensor([[0.9, 0.5, 0.25, 0.125]]))
    solution = torch.tensor([[0, 0, 1, 1]], dtype=torch.bool)  # the last two tokens are the solution
    expected = (math.log(0.25) + math.log(0.125)) / 2 + 0.01 * math.log(0.125)
    assert solution_score(student, solution, 0.01).item() == pytest.approx(expected)


def test_explanation_kl_is_teacher_minus_student_mean_plus_alpha_max():
    teacher = torch.tensor([[-0.1, -0.2, -0.3, 0.0]])
    student = torch.tensor([[-1.1, -0.2, -2.3, -9.0]])
    explanation = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    # differences 1.0, 0.0, 2.0 over the explanation; the masked-out 9.0 must not count
    assert explanation_kl(teacher, student, explanation, 0.01).item() == pytest.approx(1.0 + 0.01 * 2.0)


def test_total_reward_combines_terms_with_kl_weight_and_format_penalty():
    student = torch.tensor([[-1.0, -2.0, -0.5, -1.5], [-1.0, -2.0, -0.5, -1.5]])
    teacher = torch.tensor([[-0.5, -1.0, 0.0, 0.0], [-0.5, -1.0, 0.0, 0.0]])
    explanation = torch.tensor([[1, 1, 0, 0]] * 2, dtype=torch.bool)
    solution = torch.tensor([[0, 0, 1, 1]] * 2, dtype=torch.bool)
    out = teacher_reward(student, teacher, solution, explanation, torch.tensor([True, False]),
                         alpha=0.1, kl_weight=3.0, format_penalty=-1.0)
    r_ss = -1.0 + 0.1 * -1.5            # mean(-0.5, -1.5) + alpha * min
    r_kl = 0.75 + 0.1 * 1.0             # mean(0.5, 1.0) + alpha * max
    assert out.r_ss.tolist() == pytest.approx([r_ss, r_ss])
    assert out.r_kl.tolist() == pytest.approx([r_kl, r_kl])
    assert out.total.tolist() == pytest.approx([r_ss - 3 * r_kl, r_ss - 3 * r_kl - 1.0])
    assert out.as_dict()["reward/format_ok"].tolist() == [1.0, 0.0]


def test_a_better_explanation_earns_more():
    """Same solution tokens: the explanation after which the student finds them likelier wins."""
    solution = torch.tensor([[0, 1, 1]] * 2, dtype=torch.bool)
    explanation = torch.tensor([[1, 0, 0]] * 2, dtype=torch.bool)
    student = torch.tensor([[-1.0, -0.1, -0.2], [-1.0, -2.0, -3.0]])
    teacher = torch.tensor([[-1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    out = teacher_reward(student, teacher, solution, explanation, torch.tensor([True, True]),
                         alpha=0.01, kl_weight=3.0, format_penalty=-1.0)
    assert out.total[0] > out.total[1]
