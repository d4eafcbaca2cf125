"""Benchmarking checkpoints on math sets (`satori eval`): benchmarks, metrics, harness, reports."""
