"""Chunked token log-probs and entropy against the plain formulas; masked statistics."""

import math

import pytest
import torch

from train.algorithms.logprobs import (entropy_from_logits, explained_variance, masked_mean, masked_var,
                                       masked_whiten, token_logprobs)


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=1e-5)


def random_logits(dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(3, 5, 11, generator=generator)
    return logits.to(dtype).requires_grad_(), torch.randint(0, 11, (3, 5), generator=generator)


@pytest.mark.parametrize("chunk_tokens", [None, 1, 4, 10, 100])
@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_token_logprobs_match_log_softmax_and_its_gradient(chunk_tokens, temperature):
    logits, labels = random_logits()
    plain = torch.log_softmax(logits / temperature, -1).gather(-1, labels[..., None]).squeeze(-1)
    upstream = torch.randn(3, 5)
    expected_grad, = torch.autograd.grad((plain * upstream).sum(), logits)
    chunked = token_logprobs(logits, labels, temperature, chunk_tokens=chunk_tokens)
    close(chunked, plain)
    grad, = torch.autograd.grad((chunked * upstream).sum(), logits)
    close(grad, expected_grad)


@pytest.mark.parametrize("chunk_tokens", [None, 2, 10])
def test_entropy_matches_the_formula_and_its_gradient(chunk_tokens):
    logits, _ = random_logits()
    logp = torch.log_softmax(logits / 0.7, -1)
    plain = -(logp.exp() * logp).sum(-1)
    upstream = torch.randn(3, 5)
    expected_grad, = torch.autograd.grad((plain * upstream).sum(), logits)
    chunked = entropy_from_logits(logits, 0.7, chunk_tokens=chunk_tokens)
    close(chunked, plain)
    grad, = torch.autograd.grad((chunked * upstream).sum(), logits)
    close(grad, expected_grad)


def test_a_non_contiguous_slice_of_logits_is_scored_in_place():
    # the usual shift: logits at positions prompt_len - 1 .. L - 2 score the response tokens
    full, labels = random_logits()
    logits = full[:, 1:-1]
    assert not logits.is_contiguous()
    plain = torch.log_softmax(logits, -1).gather(-1, labels[:, 1:-1, None]).squeeze(-1)
    expected_grad, = torch.autograd.grad(plain.sum(), full)
    chunked = token_logprobs(logits, labels[:, 1:-1], chunk_tokens=2)
    close(chunked, plain)
    grad, = torch.autograd.grad(chunked.sum(), full)
    close(grad, expected_grad)
    close(entropy_from_logits(logits, chunk_tokens=2), entropy_from_logits(logits.contiguous()))


def test_entropy_by_hand():
    # p = (1/4, 3/4); uniform over 11 tokens
    close(entropy_from_logits(torch.tensor([[[0.0, math.log(3)]]])), [[-(0.25 * math.log(0.25) + 0.75 * math.log(0.75))]])
    close(entropy_from_logits(torch.zeros(1, 2, 11)), [[math.log(11)] * 2])


def test_double_precision_gradcheck():
    logits, labels = random_logits(torch.float64)
    logits, labels = logits[:1, :3].detach().requires_grad_(), labels[:1, :3]
    assert torch.autograd.gradcheck(lambda x: token_logprobs(x, labels, 0.8, chunk_tokens=4), logits)
    assert torch.autograd.gradcheck(lambda x: entropy_from_logits(x, 0.8, chunk_tokens=4), logits)


def test_bfloat16_logits_give_float32_results_and_grad_in_bfloat16():
    logits, labels = random_logits(torch.bfloat16)
    result = token_logprobs(logits, labels)
    assert result.dtype == torch.float32
    close(result, torch.log_softmax(logits.float(), -1).gather(-1, labels[..., None]).squeeze(-1))
    result.sum().backward()
    assert logits.grad.dtype == torch.bfloat16


def test_bad_arguments():
    logits, labels = random_logits()
    with pytest.raises(ValueError, match="temperature"):
        token_logprobs(logits, labels, 0.0)
    with pytest.raises(ValueError, match="do not match"):
        token_logprobs(logits, labels[:, :4])
    with pytest.raises(ValueError, match=r"\(B, T, V\)"):
        entropy_from_logits(logits[0])


X = torch.tensor([[1.0, 2.0, float("nan")], [3.0, 4.0, 5.0]])
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


def test_masked_statistics_by_hand():
    close(masked_mean(X, MASK), 3.0)
    close(masked_mean(X, MASK, dim=-1), [1.5, 4.0])
    close(masked_mean(X, torch.zeros(2, 3)), 0.0)
    close(masked_var(X, MASK), 2.5)  # squared deviations 4, 1, 0, 1, 4 over 4
    close(masked_var(X, MASK, unbiased=False), 2.0)
    with pytest.raises(ValueError, match="at least 2"):
        masked_var(X, torch.tensor([[1, 0, 0], [0, 0, 0]]))


def test_masked_whiten():
    whitened = masked_whiten(X, MASK)
    close(whitened, [[-2 / 2.5 ** 0.5, -1 / 2.5 ** 0.5, 0.0], [0.0, 1 / 2.5 ** 0.5, 2 / 2.5 ** 0.5]])
    close(masked_whiten(X, MASK, shift_mean=False), torch.where(MASK.bool(), whitened + 3.0, 0.0))


def test_explained_variance():
    returns = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    close(explained_variance(returns, returns, mask), 1.0)
    close(explained_variance(torch.full((2, 3), 3.0), returns, mask), 0.0)  # predicting the mean
    close(explained_variance(returns + 1.0, returns, mask), 1.0)  # a constant offset is not penalised
    close(explained_variance(-returns, returns, mask), 1 - 4.0)  # Var(2R) = 4 Var(R)
    assert math.isnan(explained_variance(returns, torch.ones(2, 3), mask).item())

