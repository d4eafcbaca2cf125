"""Find the final answer in a model completion or a reference solution.

Pure Python and linear in the text length: the last balanced ``\\boxed{...}``/``\\fbox{...}``
wins; otherwise the last "The answer is ...", "Final Answer: ..." or GSM8K ``#### n``
anywhere in the text.
"""

from __future__ import annotations

import re

from satori.latex import find_boxes

# "The answer is", "the final answer is", "Final Answer:", "answer:" ... (case-insensitive).
_ANSWER_CUE_RE = re.compile(r"(?:\bthe\s+)?(?:\bfinal\s+)?\banswer\s*(?:is\b\s*:?|:)[ \t]*", re.IGNORECASE)
_GSM8K_RE = re.compile(r"^[ \t]*####[ \t]*(.*)$", re.MULTILINE)
_HOPE_RE = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"\.(?=\s|$)")
_MAX_LINE = 2000
_BOX_SEPARATOR_RE = re.compile(r"[\s$,;]*(?:(?:and|\\text\{\s*and\s*\})[\s$,;]*)?")  # not "or": alternatives
_LAST_IS_RE = re.compile(r".*\bis\s+", re.DOTALL)


def extract_answer(completion: str) -> str | None:
    """The final answer of ``completion`` (box content or the text after a cue), or None.

    Boxes separated only by commas or "and" (``\\boxed{2}, \\boxed{3}``) form one answer ``2, 3``.
    """
    if not completion:
        return None
    boxes = find_boxes(completion)
    if boxes:
        first = len(boxes) - 1
        while first > 0 and _BOX_SEPARATOR_RE.fullmatch(completion, boxes[first - 1].end, boxes[first].start):
            first -= 1
        return ", ".join(box.content.strip() for box in boxes[first:])
    candidates: list[tuple[int, str]] = []
    cue = None
    for cue in _ANSWER_CUE_RE.finditer(completion):
        pass
    if cue is not None:
        answer = _answer_after_cue(completion, cue.end())
        if answer:
            candidates.append((cue.start(), answer))
    hashes = None
    for hashes in _GSM8K_RE.finditer(completion):
        pass
    if hashes is not None and hashes.group(1).strip():
        candidates.append((hashes.start(), hashes.group(1).strip()))
    if not candidates:
        return None
    return max(candidates)[1]


def answer_of(text: str) -> str:
    """``extract_answer(text)`` if ``text`` holds a cue or a box, else ``text`` itself (a bare answer)."""
    found = extract_answer(text)
    return text.strip() if found is None else found


def _answer_after_cue(text: str, start: int) -> str:
    """The answer following a cue: the ``$...$`` math right after it, else the rest of the sentence."""
    end = text.find("\n", start)
    line = text[start: end if end >= 0 else len(text)][:_MAX_LINE]
    line = _HOPE_RE.sub("", line).strip()
    for opener, closer in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if line.startswith(opener):
            close = line.find(closer, len(opener))
            if close > 0:
                return line[len(opener): close].strip()
    period = _SENTENCE_END_RE.search(line)
    if period is not None:
        line = line[: period.start()]
    line = line.strip().rstrip(".,;:").strip()
    if " " in line and _LAST_IS_RE.match(line):  # "The volume of $ABC$ is 120" -> "120"
        line = _LAST_IS_RE.sub("", line, count=1)
    return line
