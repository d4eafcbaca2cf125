"""Find the final answer in a model completion or a reference solution.

Pure Python and linear in the text length. The text is first cut where it runs on into a next
chat turn (the first role or end-of-turn marker after some text: ``<|im_start|>``, ``<|im_end|>``,
``<|eot_id|>``, ``<|endoftext|>``, ...), and halved when its LaTeX arrives JSON-escaped
(``\\\\frac``). Then the first of these rules that finds an answer chooses it (:data:`RULES`):

1. ``boxed``: the last balanced ``\\boxed{...}``/``\\fbox{...}``; boxes separated only by commas,
   "and" or a name (``x = \\boxed{3}, y = \\boxed{4}``) form one list answer ``3, 4``.
2. ``final_answer``: the last "final answer is ..." / "Final Answer: ...".
3. ``answer_label``: the last "Answer: ...".
4. ``answer_is``: the last "the answer is ..." or GSM8K ``#### ...`` line, whichever comes later.
5. ``display``: the last display equation (``\\[...\\]``, ``$$...$$``) when only words follow it
   (for an aligned block, its last row).
6. ``last_value``: the last number or math span in the text, whichever ends later (inline spans
   joined by commas or "and" form a list, as after a cue).

:func:`extract_answer` applies rules 1-5 (what a text states). When none of them
matches, the grader (:func:`answer_for_grading`) tries rule 6 on prose (two words of three
letters outside LaTeX commands, or one word and a math span after the start), and otherwise
reads a short text (up to 400 characters) whole as a bare answer (rule ``whole``).

After a cue (rules 2-4) the answer is the math span (``$..$``, ``\\(..\\)``, ``\\[..\\]``, ``$$..$$``)
that opens its sentence, or opens the next line when the cue ends its line; spans joined by
commas or "and" form a list. Without math the answer is the rest of the sentence, cut before a
clause ("because", "since", ", so" ...), with "The volume is 120" read as ``120``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from satori.latex import find_boxes, unescape_doubled_backslashes

RULES = ("boxed", "final_answer", "answer_label", "answer_is", "display", "last_value")
STATED_RULES = RULES[:-1]
GOLD_RULES = RULES[:4]
BARE_ANSWER_MAX_CHARS = 400

_TURN_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|end_of_text|eot_id|start_header_id|user|assistant|system|end)\|>"
    r"|<(?:start|end)_of_turn>|</s>|\[INST\]")
_FINAL_CUE_RE = re.compile(r"\bfinal\s+answer\b[ \t*#]*(?:(?:is\b|[:=：])[ \t*]*:?[ \t*]*|(?=\n|$))", re.IGNORECASE)
_LABEL_CUE_RE = re.compile(r"\banswer\b[ \t*]*[:：][ \t*]*", re.IGNORECASE)
_IS_CUE_RE = re.compile(r"\banswers?\s+(?:(?:is|are|would\s+be|should\s+be|will\s+be)\b|=)[ \t*]*:?[ \t*]*",
                        re.IGNORECASE)
_GSM8K_RE = re.compile(r"^[ \t]*####[ \t]*(.*)$", re.MULTILINE)
_MAX_LINE = 2000
_MAX_DISPLAY = 4000
_MAX_TAIL_AFTER_DISPLAY = 400
_BOX_SEPARATOR_RE = re.compile(
    r"[\s$,;]*(?:(?:and|\\text\{\s*(?:and|,)\s*\}|\\q?quad)[\s$,;]*)?"  # not "or": alternatives
    r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?")
# Tokens of a sentence: escaped dollars, math openers, sentence ends, line ends.
_SENTENCE_TOKEN_RE = re.compile(r"\\\$|\$\$|\$|\\\[|\\\(|[.!?](?=\s|$)|\n")
_CLOSERS = {"$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}
_SPAN_GLUE_RE = re.compile(r"[\s,;]*(?:(?:and|\\text\{\s*and\s*\})[\s,;]*)?")
_FILLER_RE = re.compile(r"^(?:\s|\*|:|(?:therefore|thus|hence|then|simply|just|clearly|exactly|equal\s+to|given\s+by)\b)*",
                        re.IGNORECASE)
_CLAUSE_RE = re.compile(r",?\s+(?:because|since|as|which|where|when|given|so\s+that|if)\b|,\s+(?:so|and\s+so|that|this)\b",
                        re.IGNORECASE)
_LAST_IS_RE = re.compile(r".*\s(?:is|are|equals|was|were)\s+", re.DOTALL)
_NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|(?<![\w.])-?\.\d+")
_PROSE_WORD_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]{3,}")
_INNER_MATH_RE = re.compile(r"(?<!\\)\$|\\[(\[]")
_COMMAND_RE = re.compile(r"\\[A-Za-z]+\*?(?:\s*\{[A-Za-z* ]*\})?")  # \frac, \begin{array}, \text{ cm}
_ALIGNED_RE = re.compile(r"\\begin\{(?:aligned|align\*?|eqnarray\*?|split|gathered)\}")
_ENV_RE = re.compile(r"\\(?:begin|end)\{(?:aligned|align\*?|eqnarray\*?|split|gathered)\}")


@dataclass(frozen=True)
class Extraction:
    """The answer span found in a text: ``text`` and the rule (one of :data:`RULES`) that chose it."""

    text: str
    rule: str


def extract_answer(completion: str) -> str | None:
    """The answer a completion states (rules ``boxed`` to ``display``), or None."""
    found = find_answer(completion)
    return None if found is None else found.text


def answer_of(text: str) -> str:
    """The answer of a reference (a box, a cue or ``####``), else ``text`` itself (a bare answer)."""
    found = find_answer(text, GOLD_RULES)
    return text.strip() if found is None else found.text


def answer_for_grading(text: str) -> Extraction | None:
    """The span the grader compares: a stated answer, else the last value of prose, else the whole
    of a short text; None when nothing fits."""
    text = _prepared(text)
    found = _apply(text, STATED_RULES)
    if found is not None:
        return found
    bare = text.strip()
    short = 0 < len(bare) <= BARE_ANSWER_MAX_CHARS
    found = _apply(text, ("last_value",)) if _is_prose(bare) else None
    return found or (Extraction(bare, "whole") if short else None)


def find_answer(text: str, rules: tuple[str, ...] = STATED_RULES) -> Extraction | None:
    """The answer span of ``text`` by the first of ``rules`` (names from :data:`RULES`) that finds one."""
    return _apply(_prepared(text), rules) if text else None


def _prepared(text: str) -> str:
    return unescape_doubled_backslashes(cut_at_next_turn(text))


def _apply(text: str, rules: tuple[str, ...]) -> Extraction | None:
    for rule in rules:
        answer = _RULE_FUNCTIONS[rule](text)
        if answer:
            return Extraction(answer, rule)
    return None


def _is_prose(text: str) -> bool:
    """Two words (three letters or more, outside LaTeX commands), or one word and a math span inside."""
    words = 0
    for words, _ in enumerate(_PROSE_WORD_RE.finditer(_COMMAND_RE.sub(" ", text)), start=1):
        if words == 2:
            return True
    return words == 1 and _INNER_MATH_RE.search(text, 1) is not None


def cut_at_next_turn(text: str) -> str:
    """``text`` up to the first chat-turn marker that follows some text."""
    start = len(text) - len(text.lstrip())
    marker = _TURN_RE.search(text, start + 1)
    return text if marker is None else text[: marker.start()]


def _boxed(text: str) -> str | None:
    boxes = find_boxes(text)
    if not boxes:
        return None
    first = len(boxes) - 1
    while first > 0 and _BOX_SEPARATOR_RE.fullmatch(text, boxes[first - 1].end, boxes[first].start):
        first -= 1
    return ", ".join(box.content.strip() for box in boxes[first:])


def _after_last(cue_re: re.Pattern, text: str) -> tuple[int, str] | None:
    """``(position, answer)`` after the last match of ``cue_re``; None when nothing follows it."""
    cue = None
    for cue in cue_re.finditer(text):
        pass
    if cue is None:
        return None
    answer = _answer_after_cue(text, cue.end())
    return (cue.start(), answer) if answer else None


def _final_answer(text: str) -> str | None:
    found = _after_last(_FINAL_CUE_RE, text)
    return found and found[1]


def _answer_label(text: str) -> str | None:
    found = _after_last(_LABEL_CUE_RE, text)
    return found and found[1]


def _answer_is(text: str) -> str | None:
    candidates = []
    found = _after_last(_IS_CUE_RE, text)
    if found:
        candidates.append(found)
    hashes = None
    for hashes in _GSM8K_RE.finditer(text):
        pass
    if hashes is not None and hashes.group(1).strip():
        candidates.append((hashes.start(), hashes.group(1).strip()))
    return max(candidates)[1] if candidates else None


def _answer_after_cue(text: str, start: int) -> str:
    """The answer after a cue: a leading math span (here or on the next line), else the sentence."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    if not text[start:line_end].strip(" \t*:"):
        start = line_end
        while start < len(text) and text[start] in " \t\r\n*":
            start += 1
    pieces = _sentence(text, start)
    head = _FILLER_RE.match(pieces[0][1] if pieces and pieces[0][0] == "text" else "")
    if pieces and pieces[0][0] == "text" and head.end() == len(pieces[0][1]) and len(pieces) > 1:
        pieces = pieces[1:]
    if pieces and pieces[0][0] == "math":
        return _joined_spans(pieces)
    return _plain_answer(" ".join(content for _, content in pieces))


def _sentence(text: str, start: int) -> list[tuple[str, str]]:
    """The sentence at ``start`` as ``("text" | "math", content)`` pieces, math spans kept whole."""
    end_of_region = min(len(text), start + _MAX_LINE)
    pieces: list[tuple[str, str]] = []
    pos = start
    for token in _SENTENCE_TOKEN_RE.finditer(text, start, end_of_region):
        if token.start() < pos:
            continue
        opener = token.group(0)
        if opener == "\\$":
            continue
        if opener in _CLOSERS:
            close = _closing(text, token.end(), opener, end_of_region)
            if close < 0:
                continue
            if token.start() > pos:
                pieces.append(("text", text[pos: token.start()]))
            pieces.append(("math", text[token.end(): close].strip()))
            pos = close + len(_CLOSERS[opener])
            continue
        if token.start() > pos or not pieces:
            pieces.append(("text", text[pos: token.start()]))
        return [piece for piece in pieces if piece[1].strip()]
    pieces.append(("text", text[pos:end_of_region]))
    return [piece for piece in pieces if piece[1].strip()]


def _closing(text: str, after: int, opener: str, limit: int) -> int:
    """Start of the delimiter closing ``opener``, or -1 (an inline ``$`` span stays on its line)."""
    closer = _CLOSERS[opener]
    if opener in ("$$", "\\["):
        return text.find(closer, after, min(len(text), after + _MAX_DISPLAY))
    end = text.find("\n", after, limit)
    end = limit if end < 0 else end
    close = text.find(closer, after, end)
    if opener == "$":
        while close > 0 and (text[close - 1] == "\\" or text[close + 1: close + 2].isdigit()):
            close = text.find("$", close + 1, end)   # an escaped or currency dollar does not close
    return close


def _joined_spans(pieces: list[tuple[str, str]]) -> str:
    """The first math span, with the spans that follow it joined only by commas or "and"."""
    spans = [pieces[0][1]]
    for i in range(1, len(pieces) - 1, 2):
        if pieces[i][0] != "text" or pieces[i + 1][0] != "math" or not _SPAN_GLUE_RE.fullmatch(pieces[i][1]):
            break
        spans.append(pieces[i + 1][1])
    return _list_of(spans)


def _list_of(spans: list[str]) -> str:
    """Spans joined as a list, except that a span ending in ``=`` runs on into the next (``$x=$ $5$``)."""
    answer = ""
    for span in spans:
        if span:
            answer += span if not answer else (" " if answer.endswith("=") else ", ") + span
    return answer


def _plain_answer(sentence: str) -> str:
    sentence = sentence.replace("**", "").strip()
    clause = _CLAUSE_RE.search(sentence)
    if clause is not None and clause.start() > 0:
        sentence = sentence[: clause.start()]
    sentence = sentence.strip().rstrip(".,;:").strip()
    if " " in sentence and _LAST_IS_RE.match(sentence):  # "The volume of $ABC$ is 120" -> "120"
        sentence = _LAST_IS_RE.sub("", sentence, count=1)
    return sentence.strip()


def _display(text: str) -> str | None:
    """The last display equation, when only words (no digits, no math) follow it."""
    found = _last_display(text, len(text))
    if found is None:
        return None
    content, end = found
    tail = text[end:]
    if len(tail) > _MAX_TAIL_AFTER_DISPLAY or any(ch.isdigit() or ch == "$" for ch in tail) or "\\(" in tail:
        return None
    if _ALIGNED_RE.search(content):
        rows = [row for row in _ENV_RE.sub("", content).split("\\\\") if row.strip()]
        content = rows[-1].replace("&", "").strip() if rows else ""
        content = content[1:].strip() if content.startswith("=") else content
    return content or None


def _last_display(text: str, limit: int) -> tuple[str, int] | None:
    """``(content, end)`` of the last ``\\[...\\]`` or ``$$...$$`` closing before ``limit``."""
    best = None
    for opener, closer in (("\\[", "\\]"), ("$$", "$$")):
        close = text.rfind(closer, 0, limit)
        open_at = text.rfind(opener, max(0, close - _MAX_DISPLAY), close) if close > 0 else -1
        if open_at >= 0 and (best is None or close + 2 > best[1]):
            best = (text[open_at + 2: close].strip(), close + 2)
    return best


def _last_value(text: str) -> str | None:
    """The last number or math span, whichever ends later (a number inside the span gives the span)."""
    number = None
    for number in _NUMBER_RE.finditer(text):
        pass
    span = _last_math_span(text)
    if span is not None and (number is None or span[1] >= number.end()):
        return span[0] or None
    return number.group(0) if number is not None else None


def _last_math_span(text: str) -> tuple[str, int] | None:
    """``(content, end)`` of the last display, or of the last inline span on the last line with a
    ``$`` or ``\\)`` together with the spans before it joined only by commas or "and" (a list)."""
    best = _last_display(text, len(text))
    last = max(text.rfind("$"), text.rfind("\\)"))
    if last < 0:
        return best
    line_start = max(text.rfind("\n", 0, last) + 1, last - _MAX_LINE)
    line_end = min(len(text), last + 2)
    pos = line_start
    spans: list[tuple[str, int]] = []   # (content, end) of the inline spans, a list run kept together
    for token in _SENTENCE_TOKEN_RE.finditer(text, line_start, line_end):
        if token.start() < pos or token.group(0) not in _CLOSERS:
            continue
        close = _closing(text, token.end(), token.group(0), line_end)
        if close >= 0:
            if spans and not _SPAN_GLUE_RE.fullmatch(text, spans[-1][1], token.start()):
                spans = []
            pos = close + len(_CLOSERS[token.group(0)])
            spans.append((text[token.end(): close].strip(), pos))
    if spans and (best is None or spans[-1][1] >= best[1]):
        best = (_list_of([content for content, _ in spans]), spans[-1][1])
    return best


_RULE_FUNCTIONS = {"boxed": _boxed, "final_answer": _final_answer, "answer_label": _answer_label,
                   "answer_is": _answer_is, "display": _display, "last_value": _last_value}
