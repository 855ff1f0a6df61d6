"""Benchmark harness: serves every model and its baselines side by side and measures them."""
