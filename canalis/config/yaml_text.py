"""YAML parsing for Canalis's own files (connections, mappings, connector declarations).

The libyaml parser (PyYAML's C extension) reads the same YAML into the same objects as the pure-Python one, ten
times faster; it is used whenever PyYAML was built with it. Parsing the shipped mappings and connector
declarations was a second of every `canalis run` with the pure-Python parser.
"""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """The document in `text`, with PyYAML's safe constructors (yaml.YAMLError when it is not valid YAML)."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader, the C one when available
