"""Token log-probabilities and entropy from logits, computed in chunks of tokens; masked statistics.

``token_logprobs`` and ``entropy_from_logits`` never materialise a second ``(B, T, V)``
tensor for autograd: the forward pass works on chunks of tokens (views of the logits, so a
non-contiguous slice such as ``logits[:, prompt_len - 1:-1]`` is not copied) and keeps only
``(B, T)`` results; the backward pass recomputes the softmax chunk by chunk. Peak extra
memory is a few float32 chunks (of about ``CHUNK_ELEMENTS`` floats) plus the gradient itself
(``bench/logprobs.py`` measures it).

Masks are ``(B, T)`` (bool or 0/1); values at positions where the mask is 0 never affect
a result, even if they are NaN or infinite.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 24  # logits per chunk: 64 MiB in float32


def _compute_dtype(logits: torch.Tensor) -> torch.dtype:
    """float32, or float64 for float64 logits."""
    return torch.promote_types(logits.dtype, torch.float32)


def _token_chunks(logits: torch.Tensor, chunk_tokens: int | None):
    """Index tuples covering the ``(B, T)`` positions of ``logits`` ``(B, T, V)`` in chunks of
    about ``chunk_tokens`` tokens (default: ``CHUNK_ELEMENTS`` logits); views, never copies.
    """
    batch, length, vocab = logits.shape
    step = chunk_tokens or max(1, CHUNK_ELEMENTS // vocab)
    if step >= length:
        sequences = step // max(length, 1)
        for b in range(0, batch, sequences):
            yield (slice(b, b + sequences),)
    else:
        for b in range(batch):
            for t in range(0, length, step):
                yield b, slice(t, t + step)


class _TokenLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels, temperature, chunk_tokens):
        logprobs = torch.empty(labels.shape, dtype=_compute_dtype(logits), device=logits.device)
        lse = torch.empty_like(logprobs)
        for index in _token_chunks(logits, chunk_tokens):
            scaled = logits[index].to(lse.dtype) / temperature
            lse[index] = torch.logsumexp(scaled, dim=-1)
            logprobs[index] = scaled.gather(-1, labels[index].unsqueeze(-1)).squeeze(-1) - lse[index]
        ctx.save_for_backward(logits, labels, lse)
        ctx.temperature, ctx.chunk_tokens = temperature, chunk_tokens
        return logprobs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logprobs):
        logits, labels, lse = ctx.saved_tensors
        grad_scaled = grad_logprobs.to(lse.dtype) / ctx.temperature
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)
        for index in _token_chunks(logits, ctx.chunk_tokens):
            # d logp_y / d z_j = (1[j = y] - p_j) / temperature
            minus_probs = (logits[index].to(lse.dtype) / ctx.temperature).sub_(lse[index].unsqueeze(-1)).exp_().neg_()
            one_hot_at = labels[index].unsqueeze(-1)
            minus_probs.scatter_add_(-1, one_hot_at, torch.ones_like(one_hot_at, dtype=minus_probs.dtype))
            grad[index] = minus_probs.mul_(grad_scaled[index].unsqueeze(-1))
        return grad, None, None, None


class _Entropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, temperature, chunk_tokens):
        entropy = torch.empty(logits.shape[:-1], dtype=_compute_dtype(logits), device=logits.device)
        for index in _token_chunks(logits, chunk_tokens):
            logp = torch.log_softmax(logits[index].to(entropy.dtype) / temperature, dim=-1)
            entropy[index] = -(logp.exp() * logp).sum(-1)
        ctx.save_for_backward(logits, entropy)
        ctx.temperature, ctx.chunk_tokens = temperature, chunk_tokens
        return entropy

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_entropy):
        logits, entropy = ctx.saved_tensors
        grad_scaled = grad_entropy.to(entropy.dtype) / ctx.temperature
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)
        for index in _token_chunks(logits, ctx.chunk_tokens):
            # d H / d z_j = -p_j (log p_j + H) / temperature
            logp = torch.log_softmax(logits[index].to(entropy.dtype) / ctx.temperature, dim=-1)
            probs = logp.exp()
            d_entropy = logp.add_(entropy[index].unsqueeze(-1)).mul_(probs).neg_()
            grad[index] = d_entropy.mul_(grad_scaled[index].unsqueeze(-1))
        return grad, None, None


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                   chunk_tokens: int | None = None) -> torch.Tensor:
    """``log softmax(logits / temperature)[labels]``: logits ``(B, T, V)``, labels ``(B, T)`` -> ``(B, T)``.

    The result is float32 (float64 for float64 logits) whatever the logits' dtype.

    ``labels`` must be valid token ids in ``[0, V)`` everywhere (put any id at padding
    positions and mask the result). Differentiable with respect to ``logits``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 to score tokens, got {temperature}")
    if logits.dim() != 3 or logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}")
    return _TokenLogprobs.apply(logits, labels.long(), float(temperature), chunk_tokens)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0,
                        chunk_tokens: int | None = None) -> torch.Tensor:
    """Entropy of ``softmax(logits / temperature)``: logits ``(B, T, V)`` -> ``(B, T)`` float32, differentiable."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if logits.dim() != 3:
        raise ValueError(f"entropy needs logits (B, T, V), got shape {tuple(logits.shape)}")
    return _Entropy.apply(logits, float(temperature), chunk_tokens)


def masked_sum(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of ``x`` over positions where ``mask`` is set (all of them, or along ``dim``)."""
    kept = torch.where(mask.bool(), x, torch.zeros_like(x))
    return kept.sum() if dim is None else kept.sum(dim)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over masked positions; 0 where nothing is masked in (never NaN)."""
    count = mask.bool().sum() if dim is None else mask.bool().sum(dim)
    return masked_sum(x, mask, dim) / count.clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``x`` over all masked positions (a scalar); unbiased needs two or more positions."""
    count = mask.bool().sum()
    if count < (2 if unbiased else 1):
        raise ValueError(f"masked_var needs at least {2 if unbiased else 1} masked positions, got {int(count)}")
    centred = x - masked_mean(x, mask)
    var = masked_mean(centred.square(), mask)
    return var * count / (count - 1) if unbiased else var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """``(x - mean) / std`` over masked positions (``(B, T)`` -> ``(B, T)``); 0 at padding.

    With ``shift_mean=False`` the mean is added back (only the scale changes).
    """
    mean = masked_mean(x, mask)
    whitened = (x - mean) * torch.rsqrt(masked_var(x, mask) + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask.bool(), whitened, torch.zeros_like(whitened))


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - Var(returns - values) / Var(returns)`` over masked tokens (scalar; NaN if returns are constant).

    1 is a perfect critic, 0 is no better than predicting the mean, negative is worse.
    """
    var_returns = masked_var(returns, mask, unbiased=False)
    var_error = masked_var(returns - values, mask, unbiased=False)
    if var_returns == 0:
        return torch.tensor(float("nan"))
    return 1 - var_error / var_returns
