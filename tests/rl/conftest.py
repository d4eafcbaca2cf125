"""Fixtures for the PPO tests: the tiny policy folder (``tiny_policy_dir``) is in ``tests/conftest.py``."""
