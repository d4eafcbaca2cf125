"""Tokenizer helpers for the COAT action tokens."""

from __future__ import annotations

from itertools import accumulate
from typing import Any

from satori.coat import ACTION_NAMES, ACTION_TOKENS


def add_action_tokens(tokenizer: Any, model: Any = None) -> list[int]:
    """Make each COAT action token one special-token id; resize ``model`` to match.

    The tokens added here start from their words (:func:`init_action_rows`); any other row beyond
    the model's old vocabulary is the mean of the old rows. Returns the ids of ``ACTION_TOKENS`` in
    order. Idempotent.
    """
    missing = [t for t in ACTION_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    ids = action_token_ids(tokenizer)
    for token, token_id in zip(ACTION_TOKENS, ids):
        encoded = tokenizer.encode(token, add_special_tokens=False)
        if encoded != [token_id]:
            raise ValueError(f"tokenizer splits {token} into {encoded}; expected the single id {token_id}")
    if model is not None:
        resize_with_mean_init(model, len(tokenizer))
        init_action_rows(model, tokenizer, [ids[ACTION_TOKENS.index(t)] for t in missing])
    return ids


def action_token_ids(tokenizer: Any) -> list[int]:
    """Ids of ``ACTION_TOKENS`` in order; empty list when the tokenizer lacks them."""
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in ACTION_TOKENS] if all(t in vocab for t in ACTION_TOKENS) else []


def resize_with_mean_init(model: Any, vocab_size: int) -> None:
    """Resize ``model``'s embeddings to ``vocab_size``; new rows = mean of the old rows."""
    import torch

    old = model.get_input_embeddings().weight.shape[0]
    if vocab_size <= old:
        return
    model.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        embeddings = [model.get_input_embeddings().weight]
        output = model.get_output_embeddings()
        if output is not None and output.weight.data_ptr() != embeddings[0].data_ptr():
            embeddings.append(output.weight)
        for weight in embeddings:
            weight[old:] = weight[:old].mean(dim=0, keepdim=True)


def init_action_rows(model: Any, tokenizer: Any, token_ids: list[int]) -> None:
    """Start each action token in ``token_ids`` from its word and the line break before it.

    Its row in the input embeddings and in an untied output head (a tied head shares the row), and
    its output bias if any, become the mean over the tokens of its word (``continue``, ``reflect``,
    ``explore``) plus the newline's. The three tokens then start distinct, read as their words, and
    score where a step ends about as the word and a line break together do, not at the vocabulary's
    mean, where a few format-tuning steps barely move them.
    """
    import torch

    newline = tokenizer.encode("\n", add_special_tokens=False)
    names = {token_id: ACTION_NAMES[token] for token, token_id in zip(ACTION_TOKENS, action_token_ids(tokenizer))}
    tensors = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None:
        tensors += [t for t in (output.weight, getattr(output, "bias", None))
                    if t is not None and t.data_ptr() != tensors[0].data_ptr()]
    with torch.no_grad():
        for token_id in token_ids:
            word = tokenizer.encode(names[token_id], add_special_tokens=False)
            for tensor in tensors:
                tensor[token_id] = tensor[word].mean(dim=0) + tensor[newline].mean(dim=0)


class ActionKeepingDecoder:
    """Decodes generated ids to text keeping the action tokens and dropping every other special token."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        keep = set(action_token_ids(tokenizer))
        self.drop_ids = {i for i in tokenizer.all_special_ids if i not in keep}

    def __call__(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode([t for t in token_ids if t not in self.drop_ids],
                                     skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def token_ends(self, token_ids: list[int]) -> list[int]:
        """For each token, the length of the text decoded from the ids up to and including it.

        ``self(token_ids)[ends[i - 1]:ends[i]]`` is what token ``i`` wrote. Decoding one token at a
        time is exact for byte-level tokenizers on whole characters; where it is not (a character
        split over tokens) each prefix is decoded instead.
        """
        pieces = [self([t]) for t in token_ids]
        if "".join(pieces) == self(token_ids):
            return list(accumulate(len(piece) for piece in pieces))
        return [len(self(token_ids[: i + 1])) for i in range(len(token_ids))]
