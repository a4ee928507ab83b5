"""Reading CSV and JSONL files row by row, turning broken rows into rejections with file and line.

Files are read as bytes one physical line at a time and each line is decoded on its own, in the connection's
encoding: a line that does not decode is rejected with the reason, never stored garbled, and costs no other
line. A CSV record may span lines (a quoted field holding a line break); one whose quote never closes, or that
closes into the wrong number of columns, is rejected as its first line alone and reading goes on with the
next line, so a broken quote costs only its own row.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from canalis.sdk import Rejected

Row = dict[str, Any] | Rejected

MAX_RECORD_LINES = 100  # a quoted CSV field spans at most this many lines; past it the opening row is broken
PAYLOAD_TEXT = 2000  # characters of a rejected line kept in its quarantine entry


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, so unchanged files are skipped on the next read."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path, *, delimiter: str, encoding: str) -> Iterator[Row]:
    """Yield each row of a .csv or .jsonl file as a dict, or a Rejected naming file and line."""
    try:
        handle = path.open("rb")
    except OSError as error:
        yield Rejected(payload=_where(path, 0), error=f"cannot open {path.name}: {error}", record_id=path.name)
        return
    with handle:
        lines = _decoded_lines(path, handle, encoding)
        if path.suffix.lower() == ".jsonl":
            yield from _read_jsonl(path, lines)
        else:
            yield from _read_csv(path, lines, delimiter)


def _where(path: Path, line: int) -> dict[str, Any]:
    return {"_source_file": path.name, "_line": line}


def _decoded_lines(path: Path, handle: BinaryIO, encoding: str) -> Iterator[tuple[int, str | Rejected]]:
    """(line number, text) per physical line, or a Rejected for a line that is not valid in `encoding`."""
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            shown = raw.decode(encoding, errors="backslashreplace")[:PAYLOAD_TEXT]
            yield (
                number,
                Rejected(
                    payload={**_where(path, number), "text": shown},
                    error=(
                        f"{path.name} line {number}: not valid {encoding} "
                        f"(byte 0x{raw[error.start]:02x} at position {error.start})"
                    ),
                    record_id=f"{path.name}:{number}",
                ),
            )
            continue
        yield number, text.lstrip("\ufeff") if number == 1 else text


def _read_jsonl(path: Path, lines: Iterator[tuple[int, str | Rejected]]) -> Iterator[Row]:
    for line_number, text in lines:
        if isinstance(text, Rejected):
            yield text
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            payload = {**_where(path, line_number), "text": text[:PAYLOAD_TEXT]}
            yield Rejected(
                payload=payload,
                error=f"{path.name} line {line_number}: invalid JSON ({error.msg})",
                record_id=f"{path.name}:{line_number}",
            )
            continue
        if not isinstance(value, dict):
            yield Rejected(
                payload={**_where(path, line_number), "value": value},
                error=f"{path.name} line {line_number}: not a JSON object",
                record_id=f"{path.name}:{line_number}",
            )
            continue
        yield {**value, **_where(path, line_number)}


class _Lines:
    """Decoded lines with look-ahead: a record may need the lines after it, and is given back all but its first
    when it turns out broken."""

    def __init__(self, lines: Iterator[tuple[int, str | Rejected]]) -> None:
        self._source = lines
        self._ahead: deque[tuple[int, str | Rejected]] = deque()

    def peek(self, offset: int) -> tuple[int, str | Rejected] | None:
        while len(self._ahead) <= offset:
            following = next(self._source, None)
            if following is None:
                return None
            self._ahead.append(following)
        return self._ahead[offset]

    def drop(self, count: int) -> None:
        for _ in range(count):
            self._ahead.popleft()


def _read_csv(path: Path, lines: Iterator[tuple[int, str | Rejected]], delimiter: str) -> Iterator[Row]:
    """Rows of a CSV file, a record at a time (one line, or several when a quoted field holds line breaks)."""
    ahead = _Lines(lines)
    header: list[str] | None = None
    while (current := ahead.peek(0)) is not None:
        number, first = current
        if isinstance(first, Rejected):
            yield first
            ahead.drop(1)
            continue
        if header is None and not first.strip():
            ahead.drop(1)
            continue
        values, used = _record(ahead, delimiter, None if header is None else len(header))
        if values is None:
            what = "header" if header is None else "row"
            yield Rejected(
                payload={**_where(path, number), "text": first[:PAYLOAD_TEXT]},
                error=f"{path.name} line {number}: unreadable {what} (a quoted field is not closed)",
                record_id=f"{path.name}:{number}",
            )
            if header is None:
                return
            ahead.drop(1)
            continue
        ahead.drop(used)
        if header is None:
            header = [name.strip() for name in values]
            continue
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) != len(header):
            payload = {**_where(path, number), "values": values}
            error = f"{path.name} line {number}: {len(values)} values for {len(header)} columns" + (
                " (unknown extra column)" if len(values) > len(header) else " (missing columns)"
            )
            yield Rejected(payload=payload, error=error, record_id=f"{path.name}:{number}")
            continue
        yield {**dict(zip(header, values, strict=True)), **_where(path, number)}


def _record(ahead: _Lines, delimiter: str, columns: int | None) -> tuple[list[str] | None, int]:
    """The CSV record starting at the next line and how many lines it takes; None when its quotes never close
    within MAX_RECORD_LINES lines, or close into a record of the wrong width that spans several lines."""
    text = ""
    for used in range(1, MAX_RECORD_LINES + 1):
        following = ahead.peek(used - 1)
        if following is None or isinstance(following[1], Rejected):
            return None, used - 1
        text += following[1]
        if not _quotes_open(text):
            values = next(csv.reader([text], delimiter=delimiter), [])
            if used > 1 and columns is not None and len(values) != columns:
                return None, used
            return values, used
    return None, MAX_RECORD_LINES


def _quotes_open(text: str) -> bool:
    """Whether a quoted field is still open at the end of `text` (an odd number of quote characters)."""
    return text.count('"') % 2 == 1
