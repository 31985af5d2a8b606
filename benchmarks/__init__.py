"""Benchmarks: the service against its ceilings and baselines. `python -m benchmarks.run`."""
