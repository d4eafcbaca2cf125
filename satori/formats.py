"""The data formats the Satori authors published with their code, read and written here.

Format-tuning rows (``Satori_FT_data``)::

    {"query": "<the problem>", "response": "<COAT trajectory with its action tokens>", "type": "<kind>"}

RL rows (``Satori_RL_data``, ``Satori_RL_data_with_RAE``)::

    {"query": "<full prompt text>", "answer": "<gold>", "reflect_status": -1 | 0 | 1}

An RL ``query`` is already templated (the official trainer adds nothing but a BOS token, which Qwen
tokenizers do not have); a restart row's query goes on with a prefix of an earlier trajectory and
ends in ``<|reflect|>``, its ``reflect_status`` +1 when that trajectory was correct and -1 when it was
not. A missing ``reflect_status`` means 0, as in the official loader.

The column names of the RL rows are the ones the official prompt loader reads. Those of the FT rows
could not be checked against published loader code (the authors' trainer holds the RL stage only), so
``satori sft`` lets every column be renamed (``data.question_field`` ...).
A file missing a required column raises :class:`SchemaError` naming the file, the columns expected
and the columns found.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator, Sequence

from satori.coat import ACTION_TOKENS, REFLECT
from satori.io import DataError
from satori.problems import iter_rows

FT_QUERY, FT_RESPONSE, FT_TYPE, FT_ANSWER = "query", "response", "type", "answer"
RL_QUERY, RL_ANSWER, RL_STATUS = "query", "answer", "reflect_status"
RL_REQUIRED = (RL_QUERY, RL_ANSWER)


class SchemaError(DataError):
    """A data file lacks the columns its format needs."""


def check_columns(source: str | os.PathLike, row: dict[str, Any], required: Sequence[str], format_name: str,
                  hint: str = "") -> None:
    """Raise :class:`SchemaError` unless ``row`` (the first row of ``source``) has every ``required`` column."""
    missing = [column for column in required if column not in row]
    if missing:
        raise SchemaError(f"{source}: not in the {format_name} format: expected columns {list(required)}, "
                          f"found {sorted(row)} (missing {missing})" + (f"; {hint}" if hint else ""))


def checked_rows(source: str | os.PathLike, required: Sequence[str], format_name: str, hint: str = "",
                 split: str = "train") -> Iterator[tuple[str, int, dict[str, Any]]]:
    """``(location, index, row)`` of a local file or hub dataset, its first row checked for ``required`` columns."""
    for where, index, row in iter_rows(source, split):
        if index == 0:
            check_columns(source, row, required, format_name, hint)
        yield where, index, row


def reflect_status_of(value: Any, where: str) -> int:
    """The ``reflect_status`` cell as -1, 0 or 1 (missing or null: 0); DataError naming ``where`` otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    number = value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or number not in (-1, 0, 1):
        raise DataError(f"{where}: {RL_STATUS} must be -1, 0 or 1 (missing means 0), got {value!r}")
    return number


def assistant_marker(tokenizer: Any) -> str | None:
    """What the tokenizer's chat template writes between a user message and the assistant's reply
    (Qwen: ``<|im_end|>\\n<|im_start|>assistant\\n``); None without a chat template."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return None
    probe = "PROBE-7f3a"
    text = tokenizer.apply_chat_template([{"role": "user", "content": probe}], tokenize=False,
                                         add_generation_prompt=True)
    return text[text.rindex(probe) + len(probe):] or None


def split_restart_query(query: str, marker: str | None = None) -> tuple[str, str] | None:
    """``(prompt, prefix)`` of a restart row's ``query``: the prefix is the trajectory, ending in
    ``<|reflect|>`` (whitespace after it is dropped).

    The trajectory starts after the last ``marker`` (the assistant turn's opening) when the query
    holds one, else at the first action token. None when the query does not end in ``<|reflect|>``
    or holds no trajectory before it.
    """
    body = query.rstrip()
    if not body.endswith(REFLECT):
        return None
    if marker and marker in body:
        start = body.rindex(marker) + len(marker)
    else:
        found = [body.find(token) for token in ACTION_TOKENS if token in body]
        start = min(found)
    if start >= len(body) - len(REFLECT):
        return None
    return body[:start], body[start:]


def ft_row(question: str, response: str, kind: str | None = None, gold: Any = None) -> dict[str, Any]:
    """One format-tuning row; ``answer`` (not in the official schema) is kept when the gold is known."""
    row: dict[str, Any] = {FT_QUERY: question, FT_RESPONSE: response, FT_TYPE: kind}
    if gold is not None:
        row[FT_ANSWER] = gold
    return row


def rl_row(query: str, answer: Any, reflect_status: int) -> dict[str, Any]:
    """One RL row."""
    return {RL_QUERY: query, RL_ANSWER: answer, RL_STATUS: reflect_status}
