"""Planner statistics kept fresh while a process fills tables in bulk (PostgreSQL).

PostgreSQL plans a lookup by key from the table's statistics. A table filled from empty by one long load (the first
read of a stream of millions of records) keeps the statistics of its empty self until autovacuum analyses it, and
where autovacuum is off or behind, every lookup of the keys of the next page turns into a scan of the whole stream
(seen: 0.66 s per lookup of 500 ids instead of 0.016 s). So the store analyses a table itself once the rows it
inserted since the last analysis reach a share of the table's size, the rule autovacuum's own analyse threshold
follows: amortised over a load, the analyses cost a small fraction of it (the sample is at most 30,000 rows).
Other databases need nothing of the kind: SQLite and MariaDB plan primary-key lookups without statistics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, Table, text

log = logging.getLogger(__name__)

BASE_ROWS = 1_000  # rows inserted before a table that was never analysed is analysed
SHARE = 0.5  # then again once the inserted rows reach this share of the rows counted at the last analysis

_lock = threading.Lock()
_grown: dict[tuple[str, str], int] = {}
_known: dict[tuple[str, str], float] = {}


def note_inserted(connection: Connection, table: Table, rows: int) -> bool:
    """Count rows inserted into `table`; analyse it when they pass the threshold. True when it was analysed."""
    if rows <= 0 or connection.dialect.name != "postgresql":
        return False
    key = (connection.engine.url.render_as_string(hide_password=True), table.name)
    with _lock:
        grown = _grown.get(key, 0) + rows
        if key not in _known:
            _known[key] = _reltuples(connection, table)
        due = grown >= BASE_ROWS + SHARE * max(_known[key], 0.0)
        _grown[key] = 0 if due else grown
    if not due:
        return False
    connection.execute(text(f'ANALYZE "{table.name}"'))
    counted = _reltuples(connection, table)
    with _lock:
        _known[key] = counted
    log.debug("analysed %s after %d inserted rows (%.0f rows counted)", table.name, grown, counted)
    return True


def analyze_due(engine: Engine, names: Iterable[str]) -> list[str]:
    """Analyse the tables among `names` whose rows changed since their last analysis pass the same threshold,
    by the server's own counters (every process's writes): what a step calls once it has written. Returns the
    tables analysed."""
    if engine.dialect.name != "postgresql":
        return []
    wanted = set(names)
    with engine.connect() as connection:
        counters = connection.execute(
            text(
                "SELECT s.relname, s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s "
                "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema()"
            )
        ).all()
        due = [
            name
            for name, changed, counted in counters
            if name in wanted and changed >= BASE_ROWS + SHARE * max(float(counted), 0.0)
        ]
        for name in due:
            connection.execute(text(f'ANALYZE "{name}"'))
        connection.commit()
    if due:
        log.debug("analysed %s", ", ".join(due))
    return due


def _reltuples(connection: Connection, table: Table) -> float:
    """The table's row count as the planner knows it (-1 when never analysed)."""
    value = connection.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": f'"{table.name}"'}
    ).scalar()
    return float(value) if value is not None else -1.0


def forget() -> None:
    """Drop what this process counted (tests; a store recreated under the same URL)."""
    with _lock:
        _grown.clear()
        _known.clear()
