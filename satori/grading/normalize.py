"""Turn an answer string (LaTeX or plain text) into one canonical LaTeX string plus flags.

Pure string work with linear-time regexes; no parsing and no code execution. Plain text
(``sqrt(2)/2``, ``3 pi``, ``1.5e3``, ``x >= 2``) is rewritten into LaTeX so that a single
grammar-based parser (latex2sympy2_extended) reads both kinds of input later. Wrappers that do
not change the value are dropped: ``$``, ``\\left``/``\\right``, spacing, ``\\text{...}``,
units, currency; degree and percent signs become flags so the comparison can try both readings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from satori.latex import unescape_doubled_backslashes

MAX_ANSWER_CHARS = 4000
MAX_NESTING = 60


@dataclass(frozen=True)
class Answer:
    """A normalized answer: ``text`` is LaTeX without wrappers, units, ``%`` or ``°``."""

    text: str
    percent: bool = False
    degrees: bool = False
    choice: str | None = None
    word: str | None = None

    def key(self) -> str:
        """Whitespace-free text: two answers with equal keys and flags are equal."""
        return self.text.replace(" ", "")


class AnswerRefused(ValueError):
    """An answer too long or too deeply nested to be parsed safely."""


_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_SIZING_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|middle)(?![A-Za-z])\s*\.?")
_DROP_COMMANDS_RE = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|mathstrut|limits|nolimits)(?![A-Za-z])")
_THIN_THOUSANDS_RE = re.compile(r"(?<=\d)\s?(?:\\,|\{\s?,\s?\}|\\ |\\;)\s?(?=\d{3}(?!\d))")
_BRACED_COMMA_RE = re.compile(r"\{\s?,\s?\}")
# A row of a derivation starts with an arrow: "\Leftrightarrow \frac{x}{y}=1000".
_LEADING_ARROW_RE = re.compile(r"^(?:\\(?:Leftrightarrow|Longleftrightarrow|Rightarrow|Longrightarrow|implies|iff|therefore)"
                               r"(?![A-Za-z])\s*)+")
# A list whose items repeat one tuple label: "(x, y)=(1, 2), (x, y)=(3, 4)".
_TUPLE_LABEL_RE = re.compile(r"^\(\s*[A-Za-z](?:\s*,\s*[A-Za-z])+\s*\)\s*=\s*")
_NEGATIVE_SPACE_RE = re.compile(r"(?<!\\)\\!")
_SPACING_RE = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad(?![A-Za-z])|\\(?:enspace|thinspace|medspace|thickspace|hfill)(?![A-Za-z])|~")
_FRAC_VARIANT_RE = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_BINOM_VARIANT_RE = re.compile(r"\\[dt]binom(?![A-Za-z])")
_FRAC_TWO_TOKENS_RE = re.compile(r"\\frac\s*([0-9A-Za-z])\s*([0-9A-Za-z])")
_FRAC_TOKEN_FIRST_RE = re.compile(r"\\frac\s*([0-9A-Za-z])\s*(?=\{)")
_FRAC_TOKEN_SECOND_RE = re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9A-Za-z])")
_SQRT_TOKEN_RE = re.compile(r"\\sqrt\s*([0-9A-Za-z])")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*percent\s*\}|\bpercent\b|\bpct\b)\s*$")
_CURRENCY_RE = re.compile(r"\\\$|US\$|\$|€|£|¥|₹|\\euro(?![A-Za-z])|\\pounds(?![A-Za-z])|\\textdollar(?![A-Za-z])"
                          r"|(?<=\d)\s*\b(?:EUR|USD|GBP)\b")
_TEXT_COMMANDS = r"text|textbf|textit|textrm|textsf|texttt|textnormal|mbox|mathrm|mathbf|mathit|mathsf|mathtt|boldsymbol|bm|rm|bf"
_TRAILING_TEXT_RE = re.compile(r"^(.*?[0-9}a-zA-Z)\]])\s*\\(?:" + _TEXT_COMMANDS + r")\s*\{([^{}]*)\}(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*$", re.DOTALL)
_TEXT_WRAPPER_RE = re.compile(r"\\(?:" + _TEXT_COMMANDS + r")\s*\{([^{}]*)\}")
_UNIT_WORDS = (
    r"(?:square|sq\.?|cubic|cu\.?)\s*(?:units?|cm|mm|km|m|meters?|metres?|ft|feet|foot|inch(?:es)?|in|yards?|miles?)"
    r"|units?|cm|mm|km|meters?|metres?|centimeters?|millimeters?|kilometers?|inch(?:es)?|feet|foot|ft|yards?|yd|miles?"
    r"|mph|kph|km/h|m/s|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|yrs?"
    r"|dollars?|cents?|euros?|pounds?|lbs?|ounces?|oz|grams?|kilograms?|kg|mg|liters?|litres?|ml|gallons?|quarts?|cups?"
    r"|degrees?|radians?|rad|people|persons?|students?|times|ways"
)
_TRAILING_UNIT_RE = re.compile(r"(?<=[0-9}\s)])\s*(?:" + _UNIT_WORDS + r")(?:\s*\^\s*\{?\s*[23]\s*\}?|[²³])?\s*$", re.IGNORECASE)
# One-letter SI units only after a space, so that "5m" stays an expression.
_TRAILING_SI_UNIT_RE = re.compile(r"(?<=\d)\s+(?:m|s|g|L|h)(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*$")
_NUMBER_THEN_WORDS_RE = re.compile(r"^(-?(?:\d[\d,]*)?\.?\d+(?:/\d+)?)\s+([A-Za-z][A-Za-z\-']+(?:\s+[A-Za-z][A-Za-z\-']*)*)$")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_MIXED_PLAIN_RE = re.compile(r"^(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_SCIENTIFIC_RE = re.compile(r"(?<![\w.\\])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d+)(?![\w.])")
_WORD_FUNCTIONS = ("arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sin", "cos", "tan", "sec", "csc", "cot",
                   "log", "ln", "exp", "sqrt", "infty", "pi")
_PLAIN_WORD_RE = re.compile(r"(?<![\\A-Za-z])(" + "|".join(_WORD_FUNCTIONS) + r"|infinity|inf|oo)(?![A-Za-z])")
_INTERVAL_UNION_RE = re.compile(r"(?<=[)\]])\s*(?:U|u|∪|\\cup)\s*(?=[(\[])")
_AND_OR_RE = re.compile(r"\s+(?:and|or)\s+|\s*\\(?:text\{\s*(?:and|or)\s*\})\s*")
_COMPARATORS = ((">=", r"\geq "), ("<=", r"\leq "), ("!=", r"\neq "), ("=>", r"\geq "), ("=<", r"\leq "))
_UNICODE = (
    ("−", "-"), ("–", "-"), ("×", r"\times "), ("·", r"\cdot "), ("÷", r"\div "), ("≤", r"\leq "), ("≥", r"\geq "),
    ("≠", r"\neq "), ("⩽", r"\leq "), ("⩾", r"\geq "), ("π", r"\pi "), ("∞", r"\infty "), ("√", r"\sqrt "),
    ("∩", r"\cap "), ("±", r"\pm "),
    ("²", "^2"), ("³", "^3"), ("∅", r"\emptyset "), ("\u00a0", " "), ("\u2009", " "), ("\u202f", " "),
)
_LATEX_ALIASES_RE = re.compile(r"\\(varnothing|leqslant|geqslant|leqq|geqq|lt|gt|le|ge|ne|lbrace|rbrace|langle|rangle|lvert|rvert"
                               r"|vert|lbrack|rbrack|infin|dots|ldots|cdots|mp)(?![A-Za-z])")
_LATEX_ALIASES = {"varnothing": r"\emptyset", "leqslant": r"\leq", "geqslant": r"\geq", "leqq": r"\leq", "geqq": r"\geq",
                  "lt": "<", "gt": ">", "le": r"\leq", "ge": r"\geq", "ne": r"\neq", "lbrace": r"\{", "rbrace": r"\}",
                  "langle": "(", "rangle": ")", "lvert": "|", "rvert": "|", "vert": "|", "lbrack": "[", "rbrack": "]",
                  "infin": r"\infty", "dots": r"\ldots", "ldots": r"\ldots", "cdots": r"\ldots", "mp": r"\mp"}
_CHOICE_RE = re.compile(r"^\(?\s*([A-Ja-j])\s*\)?\s*\.?$")
_CHOICE_PREFIX_RE = re.compile(r"^(?:\(\s*([A-Ja-j])\s*\)|([A-J])[.):])(?:\s+|$)")
_REPEATING_DECIMAL_RE = re.compile(r"(\d{0,20})\.(\d{0,20})\\overline\s*\{(\d{1,20})\}")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|sec|csc|cot)(?![A-Za-z])")
_DEGREES_IN_ARGUMENT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z]))")
_PHRASES = {"all real numbers": r"\mathbb{R}", "all reals": r"\mathbb{R}", "the real numbers": r"\mathbb{R}",
            "real numbers": r"\mathbb{R}", "empty set": r"\emptyset", "the empty set": r"\emptyset"}
_SHORT_WORDS = ("no",)
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*$")
_LONG_WORD_RE = re.compile(r"[A-Za-z]{3,}")


def normalize(answer: str) -> Answer:
    """Canonical LaTeX for ``answer`` with percent/degree flags and choice/word readings.

    Raises :class:`AnswerRefused` for answers longer than ``MAX_ANSWER_CHARS`` or nested
    deeper than ``MAX_NESTING`` brackets (they would only exhaust the parser).
    """
    text = answer.replace("\x00", "").strip()
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerRefused(f"answer has {len(text)} characters (limit {MAX_ANSWER_CHARS})")
    if _nesting_depth(text) > MAX_NESTING:
        raise AnswerRefused(f"answer nests brackets deeper than {MAX_NESTING}")
    text = _strip_delimiters(unescape_doubled_backslashes(text))
    for old, new in _UNICODE:
        text = text.replace(old, new)
    text = _DROP_COMMANDS_RE.sub("", _SIZING_RE.sub("", text))
    text = _THIN_THOUSANDS_RE.sub("", _NEGATIVE_SPACE_RE.sub("", text))
    text = _BRACED_COMMA_RE.sub(",", text)
    text = _SPACING_RE.sub(" ", text)
    text = _drop_repeated_tuple_label(_LEADING_ARROW_RE.sub("", text.strip()))
    choice, text = _split_choice(text)
    text = _FRAC_VARIANT_RE.sub(r"\\frac", text)
    text = _BINOM_VARIANT_RE.sub(r"\\binom", text)
    text = _LATEX_ALIASES_RE.sub(lambda m: _LATEX_ALIASES[m.group(1)] + " ", text)
    text = _REPEATING_DECIMAL_RE.sub(_repeating_decimal_fraction, text)
    degrees = bool(_DEGREE_RE.search(text))
    if degrees and _TRIG_RE.search(text):
        text, degrees = _DEGREES_IN_ARGUMENT_RE.sub(r"(\1\\pi/180)", text), False
    text = _DEGREE_RE.sub("", text)
    text = _CURRENCY_RE.sub("", text)
    percent = bool(_PERCENT_RE.search(text))
    text = _PERCENT_RE.sub("", text)
    text = _strip_units(text)
    text = _strip_units(_unwrap_text(text).strip().rstrip(".,;").strip())
    text = _PHRASES.get(text.lower(), text)
    word = _plain_word(text)
    text = _plain_to_latex(text)
    text = _FRAC_TWO_TOKENS_RE.sub(r"\\frac{\1}{\2}", text)
    text = _FRAC_TOKEN_FIRST_RE.sub(r"\\frac{\1}", text)
    text = _FRAC_TOKEN_SECOND_RE.sub(r"\\frac\1{\2}", text)
    text = _SQRT_TOKEN_RE.sub(r"\\sqrt{\1}", text)
    text = " ".join(text.split())
    if _THOUSANDS_RE.match(text):
        text = text.replace(",", "")
    return Answer(text=text, percent=percent, degrees=degrees, choice=choice, word=word)


def _drop_repeated_tuple_label(text: str) -> str:
    """``(x, y)=(1, 2), (x, y)=(3, 4)`` as the list ``(1, 2), (3, 4)`` (one label on every item)."""
    label = _TUPLE_LABEL_RE.match(text)
    if label is None:
        return text
    items = re.split(r",\s*(?=" + re.escape(label.group(0).rstrip()) + ")", text)
    if len(items) < 2 or not all(item.startswith(label.group(0).rstrip()) for item in items):
        return text
    return ", ".join(_TUPLE_LABEL_RE.sub("", item, count=1) for item in items)


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}]":
            depth = max(depth - 1, 0)
    return deepest


def _strip_delimiters(text: str) -> str:
    changed = True
    while changed and text:
        changed = False
        for opener, closer in _DELIMITERS:
            if text.startswith(opener) and text.endswith(closer) and len(text) >= len(opener) + len(closer):
                text = text[len(opener): len(text) - len(closer)].strip()
                changed = True
    return text.rstrip(".").strip() if text.endswith(".") and not text[:-1].endswith(".") else text


def _split_choice(text: str) -> tuple[str | None, str]:
    """Multiple-choice letter and the rest: ``(B)`` -> ``("B", "(B)")``, ``(B) 12`` -> ``("B", "12")``."""
    bare = _TEXT_WRAPPER_RE.sub(r"\1", text).replace("$", "").strip()
    match = _CHOICE_RE.match(bare)
    if match:
        return match.group(1).upper(), text
    match = _CHOICE_PREFIX_RE.match(bare)
    if match:
        rest = bare[match.end():].strip()
        return (match.group(1) or match.group(2)).upper(), rest or bare
    return None, text


def _repeating_decimal_fraction(match: re.Match) -> str:
    """``0.1\\overline{6}`` -> ``\\frac{1}{6}`` (exact, integer arithmetic only)."""
    whole, fixed, repeat = match.group(1) or "0", match.group(2), match.group(3)
    denominator = 10 ** len(fixed) * (10 ** len(repeat) - 1)
    numerator = int(whole) * denominator + int(fixed + repeat) - int(fixed or "0")
    return f"\\frac{{{numerator}}}{{{denominator}}}"


def _strip_units(text: str) -> str:
    """Drop trailing ``\\text{ cm}`` and unit words that follow a value."""
    while True:
        match = _TRAILING_TEXT_RE.match(text)
        if match is None or not re.search(r"[0-9}\])]", match.group(1)):
            break
        text = match.group(1).strip()
    stripped = _TRAILING_SI_UNIT_RE.sub("", _TRAILING_UNIT_RE.sub("", text)).strip()
    text = stripped or text
    match = _NUMBER_THEN_WORDS_RE.match(text)
    if match and not any(w in _WORD_FUNCTIONS for w in match.group(2).lower().split()):
        text = match.group(1)
    return text


def _unwrap_text(text: str) -> str:
    for _ in range(4):
        unwrapped = _TEXT_WRAPPER_RE.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    return text


def _plain_word(text: str) -> str | None:
    """Lower-case words (``yes``, ``odd``, ``no solution``) that are not math like ``pi`` or ``sin``."""
    if not _WORD_RE.match(text) or not (_LONG_WORD_RE.search(text) or text.lower() in _SHORT_WORDS):
        return None
    words = text.lower().split()
    if any(w in _WORD_FUNCTIONS or w in ("infinity", "inf") for w in words):
        return None
    return " ".join(words)


def _plain_to_latex(text: str) -> str:
    """Rewrite plain-text math (``**``, ``sqrt(..)``, ``pi``, ``>=``, ``1e3``, ``2 1/2``) as LaTeX."""
    text = text.replace("**", "^")
    for old, new in _COMPARATORS:
        text = text.replace(old, new)
    mixed = _MIXED_PLAIN_RE.match(text)
    if mixed:
        text = f"{mixed.group(1)}\\frac{{{mixed.group(2)}}}{{{mixed.group(3)}}}"
    text = _SCIENTIFIC_RE.sub(r"\1\\times 10^{\2}", text)
    text = _INTERVAL_UNION_RE.sub(r" \\cup ", text)
    text = _PLAIN_WORD_RE.sub(_latex_word, text)
    text = _call_parens_to_braces(_call_parens_to_braces(text, "\\sqrt"), "^")
    return _AND_OR_RE.sub(", ", text)


def _latex_word(match: re.Match) -> str:
    word = match.group(1)
    if word in ("infinity", "inf", "oo", "infty"):
        return "\\infty "
    return "\\" + word + " "


def _call_parens_to_braces(text: str, command: str) -> str:
    """``\\sqrt (x+1)`` -> ``\\sqrt{x+1}``, ``^(1/3)`` -> ``^{1/3}`` (parentheses matched, nesting kept)."""
    out: list[str] = []
    pos = 0
    while True:
        at = text.find(command, pos)
        if at < 0:
            out.append(text[pos:])
            return "".join(out)
        after = at + len(command)
        open_at = after
        while open_at < len(text) and text[open_at] == " ":
            open_at += 1
        if open_at < len(text) and text[open_at] == "(":
            close = _matching_paren(text, open_at)
            if close > 0:
                inner = _call_parens_to_braces(text[open_at + 1: close], command)
                out.append(text[pos:after] + "{" + inner + "}")
                pos = close + 1
                continue
        out.append(text[pos:after])
        pos = after


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1
