"""satori: teach language models to reason with Chain-of-Action-Thought (COAT).

Importing this package is cheap: it pulls in no torch, Ray, vLLM or transformers.
"""

__version__ = "0.1.0"
