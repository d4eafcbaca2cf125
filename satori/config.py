"""Typed configuration: dataclasses loaded from YAML with ``key.sub=value`` overrides.

Every stage declares one dataclass (nested dataclasses for sections). ``load_config``
reads a YAML file, applies command-line overrides, converts and checks every value
against the declared types, then calls each dataclass's ``validate()`` if it has one.
Any problem raises :class:`ConfigError` naming the key and what to change. A dataclass may list
keys it no longer takes in a ``RENAMED_KEYS`` class variable (old key -> what replaced it), so an
old config is refused with the new key named.

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
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        renamed = getattr(cls, "RENAMED_KEYS", {})  # a ClassVar: old key -> what replaced it
        if key in renamed:
            raise ConfigError(f"{source}: key '{prefix}{key}' was replaced: {renamed[key]}")
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
    """Call ``validate()`` on every dataclass in the tree, children first."""
    for f in dataclasses.fields(config):
        child = getattr(config, f.name)
        if dataclasses.is_dataclass(child):
            validate_tree(child)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()


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
           "parse_override", "require", "read_yaml"]

