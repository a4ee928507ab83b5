"""Keyset paging on (write_date, id) that cannot skip rows, even when write_date holds sub-second values.

Odoo returns write_date to the second while the database may hold microseconds, so rows that read as the
same second are not necessarily in id order. Each search_read page is therefore cut before its last
second; that second is then read whole, ordered by id, before moving on to the next second. The newest
second of a run is not taken into the cursor, because rows written later in that same second would read
as equal to it: the next run reads that second again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from canalis.sdk import ConnectorError, StreamState

ONE_SECOND = timedelta(seconds=1)
ORDER_BY_WRITE_DATE = "write_date asc, id asc"
ORDER_BY_ID = "id asc"

Fetch = Callable[[list[Any], int, str], list[dict[str, Any]]]


def odoo_datetime(moment: datetime) -> str:
    """A datetime in the form Odoo domains take: 'YYYY-MM-DD HH:MM:SS' in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_second(row: dict[str, Any]) -> datetime | None:
    """The row's write_date as an aware UTC datetime to the second, or None when unreadable."""
    value = row.get("write_date")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def start_bound(state: StreamState, lookback: timedelta) -> datetime | None:
    """The first write_date to read: one second after the stored cursor, moved back by the look-back."""
    cursor = state.cursor_datetime()
    if cursor is None:
        return None
    return cursor.replace(microsecond=0) + ONE_SECOND - lookback


def pages_by_write_date(
    fetch: Fetch, base_domain: list[Any], page_size: int, state: StreamState, lookback: timedelta
) -> Iterator[tuple[list[dict[str, Any]], StreamState]]:
    """Yield (rows, state) in (write_date, id) order; each state covers every row of every second it names."""
    lower = start_bound(state, lookback)
    while True:
        domain = [*base_domain, ("write_date", ">=", odoo_datetime(lower))] if lower else list(base_domain)
        rows = fetch(domain, page_size, ORDER_BY_WRITE_DATE)
        seconds = [second for second in map(write_second, rows) if second is not None]
        if len(rows) < page_size:
            if rows:
                # the newest second may still receive writes that read as the same second: read it again next time
                yield rows, state.advanced(max(seconds) - ONE_SECOND) if seconds else state
            return
        if not seconds:
            raise ConnectorError("odoo: a whole page came back without a readable write_date; cannot page on it")
        last = max(seconds)
        # rows without a readable write_date go out now (their record model rejects them into quarantine)
        complete = [row for row in rows if (second := write_second(row)) is None or second < last]
        if complete:
            state = state.advanced(max((second for second in seconds if second < last), default=None))
            yield complete, state
        for rows_of_second, drained in _one_second(fetch, base_domain, page_size, last):
            if drained:  # the second is read whole, but stays open until a later second shows up
                state = state.advanced(last - ONE_SECOND)
            yield rows_of_second, state
        lower = last + ONE_SECOND


def _one_second(
    fetch: Fetch, base_domain: list[Any], page_size: int, second: datetime
) -> Iterator[tuple[list[dict[str, Any]], bool]]:
    """Every row whose write_date falls in one second, in id order; the flag is True on the last page."""
    window = [("write_date", ">=", odoo_datetime(second)), ("write_date", "<", odoo_datetime(second + ONE_SECOND))]
    after_id = 0
    while True:
        rows = fetch([*base_domain, *window, ("id", ">", after_id)], page_size, ORDER_BY_ID)
        drained = len(rows) < page_size
        yield rows, drained
        if drained:
            return
        after_id = max(int(row["id"]) for row in rows if isinstance(row.get("id"), int))
