"""The Canalis code location: `defs` is what `workspace.yaml` loads. Importing it does no network I/O."""

from __future__ import annotations

from dagster import Definitions

from canalis.assets.broken import broken_file_definitions
from canalis.assets.build import build_definitions
from canalis.sdk.errors import ConfigError

try:
    defs: Definitions = build_definitions()
except ConfigError as error:  # the code location loads anyway, and says what is wrong with the file
    defs = broken_file_definitions(error)
