"""JSON in and out, fast: orjson where it reads and writes exactly what the standard library would.

orjson reads integers beyond 64 bits as floats without a word, and refuses NaN and lone surrogates. `loads`
sends any text with a run of 19 or more digits, and anything orjson refuses, to the json module, so a large
id is never rounded. `dumps` writes compact, key-sorted JSON (stable, so hashes of it are comparable).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

_LONG_NUMBER_TEXT = re.compile(r"\d{19}")
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def loads(text: str | bytes | bytearray) -> Any:
    """Decode JSON text or UTF-8 bytes, as `json.loads` would."""
    pattern = _LONG_NUMBER_TEXT if isinstance(text, str) else _LONG_NUMBER_BYTES
    if pattern.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # NaN, lone surrogates...: the json module reads them, or says why it cannot
    return json.loads(text)


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact, key-sorted JSON text; `default` turns values JSON has no type for into ones it has."""
    try:
        return orjson.dumps(value, default=default, option=_SORTED).decode()
    except TypeError:  # integers beyond 64 bits, keys of mixed types
        return json.dumps(value, default=default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
