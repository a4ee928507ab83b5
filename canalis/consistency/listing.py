"""Listing inconsistencies for people: rows for `canalis inconsistencies` and a plain-text table of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select

from canalis.consistency.tables import inconsistencies
from canalis.store import Store

COLUMNS = ("status", "severity", "code", "entity_type", "entity_key", "channels", "occurrences", "first_seen_at")
MAX_CELL = 60


def list_inconsistencies(store: Store, open_only: bool = False) -> list[dict[str, Any]]:
    """Every inconsistency (or the open ones), errors first, then by code and entity; JSON-ready values."""
    t = inconsistencies
    query = select(t).order_by(
        case((t.c.status == "open", 0), else_=1),
        case((t.c.severity == "error", 0), else_=1),
        t.c.code,
        t.c.entity_key,
        t.c.inconsistency_id,
    )
    if open_only:
        query = query.where(t.c.status == "open")
    with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    return [{key: _jsonable(value) for key, value in row.items()} for row in rows]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table of inconsistency rows, with a count line at the end."""
    if not rows:
        return "No inconsistencies."
    cells = [[_cell(row.get(column)) for column in COLUMNS] for row in rows]
    widths = [max(len(column), *(len(line[n]) for line in cells)) for n, column in enumerate(COLUMNS)]
    lines = ["  ".join(column.ljust(widths[n]) for n, column in enumerate(COLUMNS)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(line[n].ljust(widths[n]) for n in range(len(COLUMNS))).rstrip() for line in cells)
    open_count = sum(1 for row in rows if row.get("status") == "open")
    lines.append(f"{len(rows)} inconsistencies, {open_count} open")
    return "\n".join(lines)
