"""Canalis: one customer, one price, one stock across every channel.

The core package: the public connector SDK (`canalis.sdk`), the connections file (`canalis.config`), the
canonical store (`canalis.store`), and the engine's steps in the order a sync runs them: `canalis.ingest`,
`canalis.canonical`, `canalis.identity`, `canalis.timeline`, `canalis.consistency`, `canalis.publishing`,
`canalis.kpis`. Built-in connectors are `canalis.connectors`, the mapping engine `canalis.mappings`, the Dagster
code location `canalis.assets`, and the local sandbox `canalis.sandbox`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("canalis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
