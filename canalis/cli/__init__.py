"""The `canalis` command line."""

from canalis.cli.main import main

__all__ = ["main"]
