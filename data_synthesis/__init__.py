"""Stage one: synthesize COAT demonstrations (``satori synth CONFIG.yaml``).

Modules: ``families`` (procedural problems with exact gold), ``expr`` (the structured states
their solutions move through), ``agents`` (generator, critic, reward roles), ``backends``
(transformers, vLLM, OpenAI-compatible HTTP), ``demos`` (COAT assembly), ``pipeline`` (the
resumable run), ``config`` and ``cli``. Importing this package is cheap.
"""
