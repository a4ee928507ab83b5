"""The Canalis Dagster code location: Dagster definitions only. `Definitions` live in `canalis.assets.definitions`."""
