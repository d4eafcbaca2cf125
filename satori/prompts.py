"""Prompt templates shared by synthesis, training and evaluation.

``template`` names one of: ``"satori"`` (the Satori instruction, plain text), ``"chat"`` (the
Satori instruction as a user turn through the tokenizer's chat template), ``"auto"`` (chat
when the tokenizer has a template, else satori), or a custom string containing ``{question}``.
"""

from __future__ import annotations

from typing import Any

SATORI_INSTRUCTION = ("Solve the following math problem efficiently and clearly. Please reason step by step, "
                      "and put your final answer within \\boxed{{}}.\nProblem: {question}")
SATORI_TEMPLATE = SATORI_INSTRUCTION + "\n"
NAMED_TEMPLATES = ("satori", "chat", "auto")


def check_template(template: str) -> None:
    """Raise ValueError unless ``template`` is a known name or a string holding ``{question}``."""
    if template not in NAMED_TEMPLATES and "{question}" not in template:
        raise ValueError(f"prompt template {template!r} is neither one of {NAMED_TEMPLATES} "
                         "nor a string containing {question}")


def check_template_key(template: str, key: str) -> None:
    """:func:`check_template` for a config's ``validate()``: a ConfigError naming the config ``key``."""
    from satori.config import ConfigError

    try:
        check_template(template)
    except ValueError as exc:
        raise ConfigError(f"key '{key}': {exc}") from None


def build_prompt(question: str, template: str = "satori", tokenizer: Any = None) -> str:
    """The prompt text for ``question`` under ``template`` (the response follows it directly)."""
    check_template(template)
    has_chat = tokenizer is not None and getattr(tokenizer, "chat_template", None)
    if template == "auto":
        template = "chat" if has_chat else "satori"
    if template == "chat":
        if not has_chat:
            raise ValueError("prompt template 'chat' needs a tokenizer with a chat template; "
                             "use template 'satori' or a custom string with {question}")
        messages = [{"role": "user", "content": SATORI_INSTRUCTION.format(question=question)}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if template == "satori":
        return SATORI_TEMPLATE.format(question=question)
    return template.replace("{question}", question)


def encode_prompt(question: str, tokenizer: Any, template: str = "satori") -> list[int]:
    """Token ids of :func:`build_prompt` (no special tokens added beyond the template's own)."""
    return tokenizer.encode(build_prompt(question, template, tokenizer), add_special_tokens=False)
