"""Token log-probabilities and entropy from logits, computed in row chunks; masked statistics.

``token_logprobs`` and ``entropy_from_logits`` never materialise a second ``(B, T, V)``
float32 tensor for autograd: the forward pass works on chunks of rows and keeps only a
``(B, T)`` log-normaliser, and the backward pass recomputes the softmax chunk by chunk.
Peak extra memory is one chunk (``CHUNK_ELEMENTS`` floats) plus the gradient itself.

Masks are ``(B, T)`` (bool or 0/1); values at positions where the mask is 0 never affect
a result, even if they are NaN or infinite.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 24  # floats per chunk of rows: 64 MiB in float32


def _compute_dtype(logits: torch.Tensor) -> torch.dtype:
    """float32, or float64 for float64 logits."""
    return torch.promote_types(logits.dtype, torch.float32)


def _row_slices(n_rows: int, vocab: int, chunk_rows: int | None):
    """Slices covering ``n_rows`` rows, each holding about ``CHUNK_ELEMENTS`` logits."""
    step = chunk_rows or max(1, CHUNK_ELEMENTS // max(vocab, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


class _TokenLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels, temperature, chunk_rows):
        flat = logits.reshape(-1, logits.shape[-1])
        flat_labels = labels.reshape(-1, 1)
        logprobs = torch.empty(flat.shape[0], dtype=_compute_dtype(logits), device=logits.device)
        lse = torch.empty_like(logprobs)
        for rows in _row_slices(flat.shape[0], flat.shape[1], chunk_rows):
            scaled = flat[rows].to(lse.dtype) / temperature
            lse[rows] = torch.logsumexp(scaled, dim=-1)
            logprobs[rows] = scaled.gather(-1, flat_labels[rows]).squeeze(-1) - lse[rows]
        ctx.save_for_backward(logits, labels, lse)
        ctx.temperature, ctx.chunk_rows = temperature, chunk_rows
        return logprobs.view(labels.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logprobs):
        logits, labels, lse = ctx.saved_tensors
        flat = logits.reshape(-1, logits.shape[-1])
        flat_labels = labels.reshape(-1, 1)
        flat_grad_out = grad_logprobs.reshape(-1, 1).to(lse.dtype) / ctx.temperature
        grad = torch.empty_like(flat)
        for rows in _row_slices(flat.shape[0], flat.shape[1], ctx.chunk_rows):
            # d logp_y / d z_j = (1[j = y] - p_j) / temperature
            probs = torch.exp(flat[rows].to(lse.dtype) / ctx.temperature - lse[rows, None])
            probs.neg_().scatter_add_(-1, flat_labels[rows], torch.ones_like(probs[:, :1]))
            grad[rows] = (probs * flat_grad_out[rows]).to(grad.dtype)
        return grad.view_as(logits), None, None, None


class _Entropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, temperature, chunk_rows):
        flat = logits.reshape(-1, logits.shape[-1])
        entropy = torch.empty(flat.shape[0], dtype=_compute_dtype(logits), device=logits.device)
        for rows in _row_slices(flat.shape[0], flat.shape[1], chunk_rows):
            logp = torch.log_softmax(flat[rows].to(entropy.dtype) / temperature, dim=-1)
            entropy[rows] = -(logp.exp() * logp).sum(-1)
        ctx.save_for_backward(logits, entropy)
        ctx.temperature, ctx.chunk_rows = temperature, chunk_rows
        return entropy.view(logits.shape[:-1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_entropy):
        logits, entropy = ctx.saved_tensors
        flat = logits.reshape(-1, logits.shape[-1])
        flat_grad_out = grad_entropy.reshape(-1, 1).to(entropy.dtype) / ctx.temperature
        grad = torch.empty_like(flat)
        for rows in _row_slices(flat.shape[0], flat.shape[1], ctx.chunk_rows):
            # d H / d z_j = -p_j (log p_j + H) / temperature
            logp = torch.log_softmax(flat[rows].to(entropy.dtype) / ctx.temperature, dim=-1)
            d_entropy = -logp.exp() * (logp + entropy[rows, None])
            grad[rows] = (d_entropy * flat_grad_out[rows]).to(grad.dtype)
        return grad.view_as(logits), None, None


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                   chunk_rows: int | None = None) -> torch.Tensor:
    """``log softmax(logits / temperature)[labels]``: logits ``(B, T, V)``, labels ``(B, T)`` -> ``(B, T)``.

    The result is float32 (float64 for float64 logits) whatever the logits' dtype.

    ``labels`` must be valid token ids in ``[0, V)`` everywhere (put any id at padding
    positions and mask the result). Differentiable with respect to ``logits``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 to score tokens, got {temperature}")
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}")
    return _TokenLogprobs.apply(logits, labels.long(), float(temperature), chunk_rows)


def entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0,
                        chunk_rows: int | None = None) -> torch.Tensor:
    """Entropy of ``softmax(logits / temperature)``: logits ``(B, T, V)`` -> ``(B, T)`` float32, differentiable."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return _Entropy.apply(logits, float(temperature), chunk_rows)


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
