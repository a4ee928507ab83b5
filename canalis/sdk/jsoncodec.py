"""JSON in and out, fast, with the standard library's results.

`loads` reads with msgspec, which keeps integers of any size exact (orjson would turn those beyond 64 bits
into floats without a word); what msgspec refuses (NaN, Infinity, lone surrogates) goes to the json module.
`dumps` writes compact, key-sorted JSON with orjson (stable, so hashes of it are comparable), in the layout of
`json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. Three things differ from that
call: NaN and infinities become null (JSON has no such numbers), small and large floats are written 1e-7
rather than 1e-07, and integer keys are sorted as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

_decode = msgspec.json.Decoder().decode
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def loads(text: str | bytes | bytearray) -> Any:
    """Decode JSON text or UTF-8 bytes, as `json.loads` would."""
    if type(text) not in (str, bytes) and isinstance(text, str | bytes):
        text = str(text) if isinstance(text, str) else bytes(text)  # msgspec reads the exact types only
    try:
        return _decode(text)
    except msgspec.DecodeError:
        return json.loads(text)  # NaN and the like, or an error that says what is wrong


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact, key-sorted JSON text; `default` turns values JSON has no type for into ones it has."""
    try:
        return orjson.dumps(value, default=default, option=_SORTED).decode()
    except TypeError:  # integers beyond 64 bits, keys of mixed types
        return json.dumps(value, default=default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
