"""Canalis benchmarks: each module prints its figures; `python -m benchmarks` runs them all at default sizes."""
