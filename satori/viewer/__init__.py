"""The trajectory viewer: ``satori view`` writes one static HTML page to read eval samples, PPO
rollout samples and synthesized demonstrations (``sources`` reads them, ``page`` writes the page)."""
