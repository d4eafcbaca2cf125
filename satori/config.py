"""Typed configuration: dataclasses loaded from YAML with ``key.sub=value`` overrides.

Every stage declares one dataclass (nested dataclasses for sections). ``load_config``
reads a YAML file, applies command-line overrides, converts and checks every value
against the declared types, then calls each dataclass's ``validate()`` if it has one.
Any problem raises :class:`ConfigError` naming the key and what to change. A dataclass may list
keys it no longer takes in a ``RENAMED_KEYS`` class variable (old dotted key, relative to that
dataclass -> the new key, or a sentence saying what replaced it); the tables of a class's bases
count too. An old key is refused, in a YAML file and in a ``key=value`` override alike, e.g.
``key 'total_steps' was renamed: use max_steps``. The run-level keys every stage shares
(``run_dir``, ``seed``, ``max_steps``, ...) live in :mod:`satori.run_config`.

A pipeline YAML holds one section per stage (``synth:``, ``sft:``, ``rl:``, ``eval:``);
``load_config(SFTConfig, path, section="sft")`` reads just that section, so each stage's
subcommand accepts the pipeline's config file unchanged.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")
_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type, or inconsistent."""


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None,
                section: str | None = None) -> T:
    """Build ``cls`` from a YAML file (optional) and ``key=value`` overrides.

    With ``section``, a YAML whose top level has that key is read from that sub-mapping;
    overrides may then be written with or without the ``section.`` prefix.
    """
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = read_yaml(path)
        if section is not None and isinstance(raw.get(section), dict):
            raw = raw[section]
    for item in overrides or []:
        key, value = parse_override(item)
        if section is not None and key.startswith(section + "."):
            key = key[len(section) + 1:]
        set_dotted(raw, key, value)
    config = from_dict(cls, raw, prefix="", source=source)
    validate_tree(config)
    return config


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a non-mapping top level is a ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys to values")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """``"rl.lr=1e-6"`` -> ``("rl.lr", 1e-06)``; the value is read as a YAML scalar or list."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value (for example sft.lr=1e-5)")
    key, text = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads "1e-6" as a string
    return key, value


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``key == "a.b"``, creating mappings on the way."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "", source: str = "config") -> T:
    """Convert a mapping into dataclass ``cls``, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: key '{prefix.rstrip('.') or '<top>'}' must be a mapping, got {data!r}")
    check_renamed(cls, data, prefix, source)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; known keys: {', '.join(sorted(fields))}"
        raise ConfigError(f"{source}: unknown key '{prefix}{key}'{hint}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = convert(value, hints[name], f"{prefix}{name}", source)
    missing = [n for n, f in fields.items() if n not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{source}: required key '{prefix}{missing[0]}' is missing")
    return cls(**kwargs)


_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def renamed_keys(cls: type) -> dict[str, str]:
    """``cls``'s ``RENAMED_KEYS`` merged with its bases' (old dotted key -> new key or a sentence)."""
    table: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        table.update(vars(klass).get("RENAMED_KEYS", {}))
    return table


def check_renamed(cls: type, data: dict[str, Any], prefix: str = "", source: str = "config") -> None:
    """Refuse a key of ``data`` that ``cls`` no longer takes, naming what replaced it."""
    for old, new in renamed_keys(cls).items():
        if get_dotted(data, old) is not _ABSENT:
            if _KEY_RE.fullmatch(new):
                raise ConfigError(f"{source}: key '{prefix}{old}' was renamed: use {prefix}{new}")
            raise ConfigError(f"{source}: key '{prefix}{old}' was replaced: {new}")


_ABSENT = object()


def get_dotted(tree: Any, key: str, default: Any = _ABSENT) -> Any:
    """``tree["a"]["b"]`` for ``key == "a.b"``; ``default`` when a part is missing (or not a mapping)."""
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def convert(value: Any, annotation: Any, key: str, source: str) -> Any:
    """Check and convert one value against its annotation."""
    origin = get_origin(annotation)
    if annotation is Any:
        return value
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value if value is not None else {}, prefix=key + ".", source=source)
    if origin in (Union, types.UnionType):
        options = get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(value, option, key, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{source}: key '{key}' = {value!r} matches none of {_type_name(annotation)}")
    if origin is Literal:
        choices = get_args(annotation)
        if value not in choices:
            raise ConfigError(f"{source}: key '{key}' = {value!r}; choose one of {', '.join(map(repr, choices))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        (item_type, *_) = get_args(annotation) or (Any,)
        items = [convert(v, item_type, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}' must be a mapping, got {value!r}")
        _, value_type = get_args(annotation) or (Any, Any)
        return {k: convert(v, value_type, f"{key}.{k}", source) for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: key '{key}' must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{source}: key '{key}' must be an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{source}: key '{key}' must be a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{source}: key '{key}' must be a string, got {value!r}")
    return value


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def validate_tree(config: Any) -> None:
    """Run the checks of every dataclass in the tree, children first.

    A dataclass's checks are the ``validate()`` of each class in its MRO that defines one, bases
    first: a subclass's ``validate()`` adds to its bases' checks and never replaces them (so the
    shared run-level checks of :mod:`satori.run_config` hold in every stage without a ``super()`` call).
    """
    for f in dataclasses.fields(config):
        child = getattr(config, f.name)
        if dataclasses.is_dataclass(child):
            validate_tree(child)
    for klass in reversed(type(config).__mro__):
        validate = vars(klass).get("validate")
        if callable(validate):
            validate(config)


def carry(source: Any, cls: type[T], **changes: Any) -> T:
    """A ``cls`` holding ``source``'s values for the fields both declare (by name), then ``changes``.

    A section of ``source`` that is not an instance of the section ``cls`` declares is carried the
    same way into that class, field by name; any other value is shared as is. A field ``source``
    lacks keeps ``cls``'s default, so an option added to both classes flows through without code here.
    """
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in changes or not hasattr(source, f.name):
            continue
        value, target = getattr(source, f.name), hints[f.name]
        if dataclasses.is_dataclass(target) and dataclasses.is_dataclass(value) and not isinstance(value, target):
            value = carry(value, target)
        values[f.name] = value
    return cls(**values, **changes)


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain YAML-ready data."""
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML (atomically)."""
    from satori.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def format_config(config: Any) -> str:
    """The resolved config as YAML text, for printing at the start of a run."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def require(condition: bool, key: str, message: str) -> None:
    """Raise ConfigError for ``key`` unless ``condition`` holds; for use in ``validate()``."""
    if not condition:
        raise ConfigError(f"key '{key}': {message}")


__all__ = ["ConfigError", "load_config", "from_dict", "save_config", "format_config", "to_dict",
           "parse_override", "require", "read_yaml", "validate_tree", "carry", "get_dotted", "renamed_keys"]

