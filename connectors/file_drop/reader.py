"""Reading CSV and JSONL files row by row, turning broken rows into rejections with file and line."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from canalis.sdk import Rejected

Row = dict[str, Any] | Rejected


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, so unchanged files are skipped on the next read."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path, *, delimiter: str, encoding: str) -> Iterator[Row]:
    """Yield each row of a .csv or .jsonl file as a dict, or a Rejected naming file and line."""
    if path.suffix.lower() == ".jsonl":
        yield from _read_jsonl(path, encoding)
    else:
        yield from _read_csv(path, delimiter, encoding)


def _where(path: Path, line: int) -> dict[str, Any]:
    return {"_source_file": path.name, "_line": line}


def _read_csv(path: Path, delimiter: str, encoding: str) -> Iterator[Row]:
    try:
        handle = path.open(newline="", encoding=encoding)
    except OSError as error:
        yield Rejected(payload=_where(path, 0), error=f"cannot open {path.name}: {error}", record_id=path.name)
        return
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as error:
            yield Rejected(payload=_where(path, 1), error=f"unreadable header: {error}", record_id=f"{path.name}:1")
            return
        header = [name.strip().lstrip("\ufeff") for name in header]
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                line = reader.line_num
                yield Rejected(
                    payload=_where(path, line),
                    error=f"unreadable row: {error}",
                    record_id=f"{path.name}:{line}",
                )
                continue
            line = reader.line_num
            if not values or all(not value.strip() for value in values):
                continue
            if len(values) != len(header):
                payload = {**_where(path, line), "values": values}
                error = f"{path.name} line {line}: {len(values)} values for {len(header)} columns" + (
                    " (unknown extra column)" if len(values) > len(header) else " (missing columns)"
                )
                yield Rejected(payload=payload, error=error, record_id=f"{path.name}:{line}")
                continue
            yield {**dict(zip(header, values, strict=True)), **_where(path, line)}


def _read_jsonl(path: Path, encoding: str) -> Iterator[Row]:
    with path.open(encoding=encoding, errors="replace") as handle:
        for line_number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                payload = {**_where(path, line_number), "text": text[:2000]}
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
