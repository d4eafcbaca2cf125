"""SFT data: demonstrations -> token ids with a response-only loss mask -> (packed) batches.

A training sequence is ``prompt_ids + response_ids`` where the prompt comes from
:func:`satori.prompts.encode_prompt` and the response is the COAT text followed by EOS. Labels
are ``-100`` on prompt tokens, so the loss covers the response only. Rows in the official
format-tuning format (``satori.formats``) take the same path: their ``response`` is tokenized like a
synthesized demonstration's COAT text, action tokens included.

Over-length examples follow ``overlength``: ``"drop"`` skips them, ``"truncate_response"`` cuts
the response end (the EOS goes with it). The prompt is never cut: an example whose prompt alone
fills ``max_length`` is always dropped and counted.

Packing puts several examples in one row. Each example's ``position_ids`` restart at 0 and no
attention mask is passed, which makes transformers build a block-diagonal causal mask (its
packed-sequence detection), so no token attends across an example boundary. Padding at the end
of a row forms its own block and carries no loss. Unpacked rows use the same layout with one
example each, so packed and unpacked batches give the same loss.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from satori.formats import checked_rows
from satori.io import DataError
from satori.problems import looks_local
from satori.prompts import encode_prompt

IGNORE_INDEX = -100


@dataclass
class Demo:
    """One demonstration: a question, its gold answer and the COAT response to imitate."""

    id: str
    question: str
    gold: Any
    response: str


@dataclass
class Encoded:
    """Token ids of one example; ``response_ids`` ends with EOS unless truncated."""

    prompt_ids: list[int]
    response_ids: list[int]

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


def load_demos(path: str, question_field: str = "problem", response_field: str = "coat",
               gold_field: str = "gold", id_field: str = "id", limit: int | None = None, split: str = "train",
               data_format: str = "satori") -> list[Demo]:
    """Read demonstrations from a local file or a hub dataset (its ``split``).

    A file whose first row lacks the question or response column raises
    :class:`satori.formats.SchemaError` (columns expected and found, as ``data_format``); a later row
    missing one raises DataError naming file and line (or row).
    """
    source = Path(path)
    if looks_local(path) and not source.is_file():
        raise DataError(f"demonstrations file not found: {source} (set data.path)")
    hint = ("set data.format (satori or satori-ft), or data.question_field / data.response_field to the "
            "columns holding the question and the COAT text")
    demos = []
    for where, index, row in checked_rows(path, (question_field, response_field), data_format, hint, split):
        for key in (question_field, response_field):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(f"{where}: missing or empty field {key!r} (set data.question_field / "
                                f"data.response_field to the columns holding the question and the COAT text)")
        demo_id = row.get(id_field)
        demos.append(Demo(id=str(demo_id) if demo_id is not None else f"row-{index}",
                          question=row[question_field], gold=row.get(gold_field), response=row[response_field]))
        if limit is not None and len(demos) >= limit:
            break
    return demos


def split_by_question(demos: list[Demo], val_size: float, seed: int) -> tuple[list[Demo], list[Demo]]:
    """Hold out whole questions (a fraction ``< 1`` or a count), so no validation problem is trained on."""
    questions = sorted({d.question for d in demos})
    random.Random(seed).shuffle(questions)
    count = int(val_size) if val_size >= 1 else round(val_size * len(questions))
    if count >= len(questions) and count > 0:
        raise DataError(f"data.val_size={val_size} holds out all {len(questions)} questions; lower it")
    held = set(questions[:count])
    return [d for d in demos if d.question not in held], [d for d in demos if d.question in held]


def encode_demos(demos: list[Demo], tokenizer: Any, template: str, max_length: int,
                 overlength: str) -> tuple[list[Encoded], dict[str, int]]:
    """Tokenize and apply the over-length policy; stats count ``dropped``/``truncated`` examples."""
    stats = {"examples": 0, "dropped": 0, "truncated": 0}
    encoded = []
    for demo in demos:
        prompt = encode_prompt(demo.question, tokenizer, template)
        response = tokenizer.encode(demo.response, add_special_tokens=False) + [tokenizer.eos_token_id]
        if len(prompt) + len(response) > max_length:
            if overlength == "drop" or len(prompt) >= max_length:
                stats["dropped"] += 1
                continue
            response = response[: max_length - len(prompt)]
            stats["truncated"] += 1
        encoded.append(Encoded(prompt, response))
        stats["examples"] += 1
    return encoded, stats


def pack_rows(examples: list[Encoded], max_length: int, packing: bool) -> list[list[int]]:
    """Group example indices into rows of at most ``max_length`` tokens (one per row without packing)."""
    if not packing:
        return [[i] for i in range(len(examples))]
    rows: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, example in enumerate(examples):
        if current and used + len(example) > max_length:
            rows.append(current)
            current, used = [], 0
        current.append(index)
        used += len(example)
    if current:
        rows.append(current)
    return rows


def collate(rows: list[list[Encoded]], pad_id: int) -> dict[str, Any]:
    """Tensors for a micro-batch of rows: ``input_ids``, ``position_ids``, ``labels``, all ``(B, T)``,
    and ``num_tokens`` (real tokens, padding excluded).

    ``labels[b, t]`` is the token at ``t`` when it is a response token, else -100; the shift for
    next-token prediction happens in the loss.
    """
    import torch

    width = max(sum(len(e) for e in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        start = 0
        for example in row:
            ids = example.prompt_ids + example.response_ids
            end = start + len(ids)
            input_ids[b, start:end] = torch.tensor(ids)
            labels[b, start + len(example.prompt_ids): end] = torch.tensor(example.response_ids)
            position_ids[b, start:end] = torch.arange(len(ids))
            start = end
        position_ids[b, start:] = torch.arange(width - start)  # padding: its own block
    return {"input_ids": input_ids, "position_ids": position_ids, "labels": labels,
            "num_tokens": sum(len(e) for row in rows for e in row)}


def epoch_order(size: int, seed: int, epoch: int) -> list[int]:
    """``range(size)`` shuffled for ``epoch`` of a run seeded ``seed``: a function of its arguments only."""
    order = list(range(size))
    random.Random(seed * 100_003 + epoch).shuffle(order)
    return order


class BatchStream:
    """Deterministic micro-batches: row order reshuffled each epoch from ``seed``.

    ``micro_batch(i)`` depends only on ``i`` (the data position), which makes resuming exact.
    """

    def __init__(self, examples: list[Encoded], batch_size: int, max_length: int, packing: bool,
                 pad_id: int, seed: int):
        if not examples:
            raise DataError("no training examples left after the over-length policy; "
                            "raise data.max_length or use data.overlength=truncate_response")
        self.examples = examples
        self.rows = pack_rows(examples, max_length, packing)
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.seed = seed
        self.batches_per_epoch = -(-len(self.rows) // batch_size)
        self._epoch = -1
        self._order: list[int] = []

    def micro_batch(self, index: int) -> dict[str, Any]:
        epoch, offset = divmod(index, self.batches_per_epoch)
        if epoch != self._epoch:
            self._order = epoch_order(len(self.rows), self.seed, epoch)
            self._epoch = epoch
        chosen = self._order[offset * self.batch_size: (offset + 1) * self.batch_size]
        return collate([[self.examples[i] for i in self.rows[r]] for r in chosen], self.pad_id)
