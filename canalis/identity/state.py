"""The resolved state of an identity engine as bytes, so that an incremental run starts where the last run ended.

What is kept: the comparison features of every record (not the raw records: the few a run needs are read
again from customer_records), the block codes, which records are alive, each record's customer, rule and
confidence, the link graph's adjacency, the ids' ages and aliases, cluster flags and the match model. Key
indexes are rebuilt on load (they hash with the process's own hash). The format is plain: a JSON header
naming each part, then numpy arrays as raw bytes and text columns as NUL-joined UTF-8; nothing is unpickled.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

_MAGIC = b"CANALIS-IDENTITY-STATE-1\n"
_SEP = "\x00"
_TUPLE_SEP = "\x1e"


def _text(values: list[str]) -> bytes:
    joined = _SEP.join(values)
    if joined.count(_SEP) != max(len(values) - 1, 0):  # a value held the separator: drop it from that value
        joined = _SEP.join(v.replace(_SEP, "") for v in values)
    return joined.encode("utf-8")


def _untext(data: bytes, count: int) -> list[str]:
    if count == 0:
        return []
    return data.decode("utf-8").split(_SEP)


def encode(parts: dict[str, Any]) -> bytes:
    """Bytes of named parts: numpy arrays, lists of text, lists of text tuples, or JSON-ready values."""
    header: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, value in parts.items():
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value).tobytes()
            header.append({"name": name, "kind": "array", "dtype": value.dtype.str, "count": len(value)})
        elif isinstance(value, list) and value and isinstance(value[0], tuple):
            data = _text([_TUPLE_SEP.join(item) for item in value])
            header.append({"name": name, "kind": "tuples", "count": len(value)})
        elif isinstance(value, list) and all(isinstance(item, str) for item in value[:1]):
            data = _text(value)
            header.append({"name": name, "kind": "text", "count": len(value)})
        else:
            data = json.dumps(value, separators=(",", ":")).encode("utf-8")
            header.append({"name": name, "kind": "json"})
        header[-1]["size"] = len(data)
        blobs.append(data)
    head = json.dumps(header).encode("utf-8")
    return b"".join([_MAGIC, struct.pack("<Q", len(head)), head, *blobs])


def decode(data: bytes | memoryview) -> dict[str, Any]:
    """The parts `encode` wrote."""
    view = memoryview(data)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not an identity state")
    position = len(_MAGIC)
    (length,) = struct.unpack("<Q", view[position : position + 8])
    position += 8
    header = json.loads(bytes(view[position : position + length]))
    position += length
    out: dict[str, Any] = {}
    for part in header:
        chunk = view[position : position + part["size"]]
        position += part["size"]
        match part["kind"]:
            case "array":
                out[part["name"]] = np.frombuffer(chunk, dtype=np.dtype(part["dtype"]), count=part["count"]).copy()
            case "text":
                out[part["name"]] = _untext(bytes(chunk), part["count"])
            case "tuples":
                out[part["name"]] = [tuple(item.split(_TUPLE_SEP)) for item in _untext(bytes(chunk), part["count"])]
            case _:
                out[part["name"]] = json.loads(bytes(chunk))
    return out
