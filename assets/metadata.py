"""Helpers that turn reports into Dagster metadata: markdown tables and previews the UI can show.

Every table and list masks personal values (see `canalis.privacy`) unless asked not to: Dagster keeps metadata in
its run history for good, and the store is where people's data lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dagster import MetadataValue

from canalis.privacy import mask_record, mask_text

MAX_CELL = 60


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *, mask: bool = True
) -> MetadataValue:
    """A markdown table of rows (cells shortened, personal values masked unless `mask=False`)."""
    if not rows:
        return MetadataValue.md("_no rows_")
    if mask:
        rows = [mask_record(row) for row in rows]
    columns = list(columns or _columns(rows))
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |")
    return MetadataValue.md("\n".join(lines))


def counter_table(counts: Mapping[str, int], key: str, value: str = "records") -> MetadataValue:
    """A two-column markdown table from a mapping of counts."""
    return markdown_table([{key: name, value: count} for name, count in sorted(counts.items())], [key, value])


def bullet_list(items: Iterable[str], *, mask: bool = True) -> MetadataValue:
    """A markdown list (emails and phone numbers masked unless `mask=False`)."""
    text = "\n".join(f"- {_cell(mask_text(item) if mask else item, 300)}" for item in items)
    return MetadataValue.md(text or "_none_")


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for name in row:
            if name not in columns and not str(name).startswith("_"):
                columns.append(name)
    return columns[:12]


def _cell(value: Any, limit: int = MAX_CELL) -> str:
    if value is None:
        return ""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
