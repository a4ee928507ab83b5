"""The resolved state of an identity engine as bytes, so that an incremental run starts where the last run ended.

What is kept: the comparison features of every record (not the raw records: the few a run needs are read
again from customer_records), the block codes, which records are alive, each record's customer, rule and
confidence, the link graph's adjacency, the ids' ages and aliases, cluster flags and the match model. Key
indexes are rebuilt on load (they hash with the process's own hash). The format is plain: a JSON header
naming each part, then numpy arrays as raw bytes and text columns as NUL-joined UTF-8; nothing is unpickled.

The store keeps it in pieces (`pieces`, `join`): the header, then each part cut at record boundaries every
`ROWS_PER_PIECE` records (and at most `PIECE_BYTES` each), each piece with a digest of its bytes. A run
rewrites only the pieces whose digest changed: the columns and record ranges an incremental run did not change
stay as they are. Joining the pieces gives back the encoded bytes, which restore without per-element work for
the arrays (numpy frombuffer).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

_MAGIC = b"CANALIS-IDENTITY-STATE-1\n"
_SEP = "\x00"
_TUPLE_SEP = "\x1e"
HEADER = "#header"  # the name of the header's piece (part names have no "#")
ROWS_PER_PIECE = 32_768
PIECE_BYTES = 16 * 1024 * 1024  # below MySQL's default max_allowed_packet


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


def _header(view: memoryview) -> tuple[list[dict[str, Any]], int]:
    """The header of encoded bytes and where the parts start."""
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not an identity state")
    position = len(_MAGIC)
    (length,) = struct.unpack("<Q", view[position : position + 8])
    position += 8
    return json.loads(bytes(view[position : position + length])), position + length


def decode(data: bytes | memoryview) -> dict[str, Any]:
    """The parts `encode` wrote."""
    view = memoryview(data)
    header, position = _header(view)
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


@dataclass(frozen=True)
class Piece:
    """A piece of an encoded state: `index` of part `name` (HEADER for the header), its bytes and their digest."""

    name: str
    index: int
    data: memoryview
    digest: str


def _digest(data: memoryview) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _cuts(part: dict[str, Any], blob: memoryview) -> list[int]:
    """Offsets cutting a part's bytes at record boundaries every ROWS_PER_PIECE records, then every PIECE_BYTES."""
    size = len(blob)
    match part["kind"]:
        case "array":
            step = ROWS_PER_PIECE * np.dtype(part["dtype"]).itemsize
            bounds = list(range(0, size, step))
        case "text" | "tuples":  # after every ROWS_PER_PIECE-th separator (no value holds one)
            separators = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 0)
            bounds = [0, *(separators[ROWS_PER_PIECE - 1 :: ROWS_PER_PIECE] + 1).tolist()]
        case _:
            bounds = [0]
    bounds.append(size)
    cuts = [0]
    for start, end in pairwise(bounds):
        cuts.extend(range(start + PIECE_BYTES, end, PIECE_BYTES))
        if end > start:
            cuts.append(end)
    return cuts


def pieces(data: bytes) -> list[Piece]:
    """Encoded bytes as pieces: the header, then each part's pieces in order (an empty part has none)."""
    view = memoryview(data)
    header, position = _header(view)
    out = [Piece(HEADER, 0, view[:position], _digest(view[:position]))]
    for part in header:
        blob = view[position : position + part["size"]]
        position += part["size"]
        cuts = _cuts(part, blob)
        for index, (start, end) in enumerate(pairwise(cuts)):
            chunk = blob[start:end]
            out.append(Piece(part["name"], index, chunk, _digest(chunk)))
    return out


def join(found: dict[tuple[str, int], bytes]) -> bytes:
    """The encoded bytes from their pieces, by (name, index)."""
    head = found.get((HEADER, 0))
    if head is None:
        raise ValueError("identity state without its header")
    header, _ = _header(memoryview(head))
    out = [head]
    for part in header:
        size, index = 0, 0
        while size < part["size"]:
            chunk = found.get((part["name"], index))
            if chunk is None:
                break
            out.append(chunk)
            size += len(chunk)
            index += 1
        if size != part["size"]:
            raise ValueError(f"identity state part {part['name']!r} is incomplete")
    return b"".join(out)
