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


class _Feed:
    """The lines `csv.reader` reads, remembering those of the record being read so that a broken record's
    lines after its first can be read again. An undecodable line reaches the reader as an empty line."""

    def __init__(self, lines: Iterator[tuple[int, str | Rejected]]) -> None:
        self._lines = lines
        self.again: deque[tuple[int, str | Rejected]] = deque()
        self.taken: list[tuple[int, str | Rejected]] = []

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        item = self.again.popleft() if self.again else next(self._lines)
        self.taken.append(item)
        text = item[1]
        return "\n" if isinstance(text, Rejected) else text


def _read_csv(path: Path, lines: Iterator[tuple[int, str | Rejected]], delimiter: str) -> Iterator[Row]:
    """Rows of a CSV file, a record at a time (one line, or several when a quoted field holds line breaks)."""
    feed = _Feed(lines)
    reader = csv.reader(feed, delimiter=delimiter)
    header: list[str] | None = None
    file_name = path.name
    while True:
        feed.taken = []
        try:
            values: list[str] | None = next(reader)
        except StopIteration:
            if not feed.taken:
                return
            values = None  # the file ended inside a quoted field
        except csv.Error:
            values = None  # a field past the csv module's size limit: a quote that never closed
        taken = feed.taken
        number, first = taken[0]
        if isinstance(first, Rejected):
            yield first
            if len(taken) > 1:
                feed.again.extendleft(reversed(taken[1:]))
                reader = csv.reader(feed, delimiter=delimiter)
            continue
        if values is None or (len(taken) > 1 and _broken(taken, values, header, delimiter)):
            what = "header" if header is None else "row"
            yield Rejected(
                payload={**_where(path, number), "text": first[:PAYLOAD_TEXT]},
                error=f"{path.name} line {number}: unreadable {what} (a quoted field is not closed)",
                record_id=f"{path.name}:{number}",
            )
            if header is None:
                return
            feed.again.extendleft(reversed(taken[1:]))  # the lines it swallowed are read again, on their own
            reader = csv.reader(feed, delimiter=delimiter)
            continue
        if header is None:
            if values:
                header = [name.strip() for name in values]
            continue
        if not values or not "".join(values).strip():
            continue
        if len(values) != len(header):
            payload = {**_where(path, number), "values": values}
            error = f"{file_name} line {number}: {len(values)} values for {len(header)} columns" + (
                " (unknown extra column)" if len(values) > len(header) else " (missing columns)"
            )
            yield Rejected(payload=payload, error=error, record_id=f"{file_name}:{number}")
            continue
        row = dict(zip(header, values, strict=True))
        row["_source_file"] = file_name
        row["_line"] = number
        yield row


def _broken(
    taken: list[tuple[int, str | Rejected]], values: list[str], header: list[str] | None, delimiter: str
) -> bool:
    """Whether a record read over several lines is a broken quote rather than a field holding line breaks: it
    spans an undecodable line, more than MAX_RECORD_LINES lines, or closes into the wrong number of columns."""
    if len(taken) > MAX_RECORD_LINES or any(isinstance(text, Rejected) for _, text in taken):
        return True
    if _quotes_open("".join(text for _, text in taken if isinstance(text, str))):
        return True  # the file ended inside the quoted field
    if header is None:
        return False
    if len(values) != len(header):
        return True
    # a quote opened by mistake closes at a later stray quote: the lines between are whole rows of their own
    between = [text for _, text in taken[1:-1] if isinstance(text, str)]
    return bool(between) and all(_whole_row(text, len(header), delimiter) for text in between)


def _whole_row(text: str, columns: int, delimiter: str) -> bool:
    """Whether a line read on its own is a complete row of `columns` values."""
    if _quotes_open(text):
        return False
    return len(next(csv.reader([text], delimiter=delimiter), [])) == columns


def _quotes_open(text: str) -> bool:
    """Whether a quoted field is still open at the end of `text` (an odd number of quote characters)."""
    return text.count('"') % 2 == 1
