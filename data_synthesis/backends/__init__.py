"""Text backends serving the LLM agents: ``base.TextBackend`` plus one module per kind.

``make_backend(name, config)`` builds one from a :class:`data_synthesis.config.BackendConfig`;
heavy imports (torch, vLLM) happen only inside the chosen module.
"""

from __future__ import annotations

from typing import Any


def make_backend(name: str, config: Any, tokenizer: Any = None) -> Any:
    """The backend ``config.kind`` names: ``hf`` (transformers), ``vllm`` or ``openai`` (HTTP).

    ``tokenizer`` (engines only) overrides the one loaded from ``config.model``.
    """
    if config.kind == "openai":
        from data_synthesis.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(name, base_url=config.base_url, model=config.model, api_key_env=config.api_key_env,
                                   max_concurrency=config.max_concurrency, timeout=config.timeout,
                                   max_retries=config.max_retries, backoff=config.backoff)
    from data_synthesis.backends.engine import EngineBackend

    if config.kind == "hf":
        from satori.engines.hf import HFEngine

        engine = HFEngine(config.model, tokenizer, **config.engine_kwargs)
    else:
        from satori.engines.vllm_engine import VLLMEngine

        engine = VLLMEngine(config.model, tokenizer, **config.engine_kwargs)
    return EngineBackend(name, engine, engine.tokenizer, chat=config.chat)
