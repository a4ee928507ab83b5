"""Canalis Dagster code location. The `Definitions` live in `assets.definitions`."""
