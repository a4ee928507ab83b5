"""Reading Brevo streams page by page: offset paging inside read windows, cursors kept in the stream state."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from canalis.connectors.brevo.client import LISTS_PAGE_SIZE, BrevoClient
from canalis.connectors.brevo.incremental import CursorFilter, WindowProgress, in_window, parse_moment, window_done
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.sdk import Page, Rejected, StreamState, format_cursor

Clock = Callable[[], datetime]
FetchPage = Callable[[WindowProgress], list[Any]]


def wire_time(moment: datetime) -> str:
    """A UTC time as Brevo's filters take it: YYYY-MM-DDTHH:mm:ss.SSSZ."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_key(event: dict[str, Any]) -> str | None:
    """A stable key for an event (Brevo gives events no id): message, event type, time and clicked link."""
    message, kind, moment = event.get("messageId"), event.get("event"), event.get("date")
    if not (isinstance(message, str) and isinstance(kind, str) and isinstance(moment, str)):
        return None
    key = f"{message}|{kind}|{moment}"
    link = event.get("link")
    if isinstance(link, str) and link:
        key += "|" + hashlib.sha256(link.encode()).hexdigest()[:12]
    return key


class StreamReader:
    """Reads one Brevo account's streams with the connector's settings."""

    def __init__(self, client: BrevoClient, settings: BrevoSettings, clock: Clock) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self.lookback = timedelta(minutes=settings.lookback_minutes)

    # -- streams -----------------------------------------------------------------------------------

    def contacts(self, state: StreamState) -> Iterator[Page]:
        """Contacts modified since the cursor (minus the look-back), oldest-created first."""
        window = WindowProgress.from_extra(state.extra.get("window"))
        if window is None:
            since = CursorFilter.from_state(state, self.lookback).since()
            window = WindowProgress(started=self.clock(), params={"modifiedSince": since and wire_time(since)})
        limit = self.settings.page_size

        def fetch(progress: WindowProgress) -> list[Any]:
            since_text = progress.params.get("modifiedSince")
            page = self.client.contacts_page(offset=progress.offset, limit=limit, modified_since=since_text)
            return page.get("contacts") or []

        yield from self._window(state, window, fetch, limit, "modifiedAt", lambda r: str(r.get("id")))

    def lists(self, state: StreamState) -> Iterator[Page]:
        """Every contact list (no cursor: lists are few and have no modification date)."""
        offset = 0
        while True:
            page = self.client.lists_page(offset=offset)
            records = page.get("lists") or []
            offset += len(records)
            yield Page(records=records, state=state)
            if len(records) < LISTS_PAGE_SIZE or offset >= int(page.get("count") or 0):
                return

    def blocked_contacts(self, state: StreamState) -> Iterator[Page]:
        """Blocked or unsubscribed addresses since the cursor's day (minus one day for time zones)."""
        window = WindowProgress.from_extra(state.extra.get("window"))
        if window is None:
            since = CursorFilter.from_state(state, self.lookback).since()
            params: dict[str, Any] = {}
            if since is not None:
                end = self.clock().date()
                params = {
                    "startDate": min(since.date() - timedelta(days=1), end).isoformat(),
                    "endDate": end.isoformat(),
                }
            window = WindowProgress(started=self.clock(), params=params)

        def fetch(progress: WindowProgress) -> list[Any]:
            page = self.client.blocked_page(
                offset=progress.offset,
                start_date=progress.params.get("startDate"),
                end_date=progress.params.get("endDate"),
            )
            return page.get("contacts") or []

        key = lambda record: str(record.get("email", "")).lower()  # noqa: E731
        yield from self._window(state, window, fetch, 100, "blockedAt", key)

    def email_events(self, state: StreamState) -> Iterator[Page]:
        """Email events day window by day window, from the cursor (or the configured start) to today."""
        today = self.clock().date()
        window = WindowProgress.from_extra(state.extra.get("window"))
        if window is not None:
            for page in self._event_window(state, window):
                state = page.state
                yield page
            start = date.fromisoformat(window.params["endDate"]) + timedelta(days=1)
        else:
            start = self._first_event_day(state, today)
        while start <= today:
            end = min(start + timedelta(days=self.settings.events_window_days - 1), today)
            params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
            for page in self._event_window(state, WindowProgress(started=self.clock(), params=params)):
                state = page.state
                yield page
            start = end + timedelta(days=1)

    # -- helpers -----------------------------------------------------------------------------------

    def _first_event_day(self, state: StreamState, today: date) -> date:
        cursor = state.cursor_datetime()
        scanned = parse_moment(state.extra.get("scanned_until"))
        if cursor is None and scanned is None:
            if self.settings.events_start_date is not None:
                return self.settings.events_start_date
            return today - timedelta(days=self.settings.events_history_days)
        latest = max(moment for moment in (cursor, scanned) if moment is not None)
        return (latest - self.lookback).date() - timedelta(days=1)

    def _event_window(self, state: StreamState, window: WindowProgress) -> Iterator[Page]:
        limit = self.settings.events_page_size
        end_day = date.fromisoformat(window.params["endDate"])

        def fetch(progress: WindowProgress) -> list[Any]:
            page = self.client.events_page(
                offset=progress.offset,
                limit=limit,
                start_date=progress.params["startDate"],
                end_date=progress.params["endDate"],
            )
            events = page.get("events") or []
            return [_with_key(event) for event in events]

        day_end = datetime.combine(end_day + timedelta(days=1), time(0), UTC)
        scanned = min(day_end, window.started) if window.started else day_end
        yield from self._window(
            state,
            window,
            fetch,
            limit,
            "date",
            lambda r: str(r.get("_key")),
            scanned_until=format_cursor(scanned, "datetime"),
        )

    def _window(
        self,
        state: StreamState,
        window: WindowProgress,
        fetch: FetchPage,
        limit: int,
        field: str,
        key_of: Callable[[dict[str, Any]], str],
        **done_extra: Any,
    ) -> Iterator[Page]:
        """Page through one window at growing offsets; the cursor moves only once the window is read."""
        wanted = CursorFilter.from_state(state, self.lookback)
        while True:
            raw = fetch(window)
            records: list[dict[str, Any]] = []
            rejected: list[Rejected] = []
            for record in raw:
                if not isinstance(record, dict):
                    rejected.append(Rejected(payload=record, error="record is not a JSON object"))
                    continue
                moment, key = parse_moment(record.get(field)), key_of(record)
                if moment is None:
                    rejected.append(
                        Rejected(
                            payload=record, error=f"{field}: missing or not a timestamp", record_id=key, field=field
                        )
                    )
                    continue
                window.saw(moment, key)
                if wanted.wanted(moment, key):
                    records.append(record)
            window.offset += len(raw)
            if len(raw) < limit:
                yield Page(records=records, state=window_done(state, window, **done_extra), rejected=rejected)
                return
            yield Page(records=records, state=in_window(state, window), rejected=rejected)


def _with_key(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    key = event_key(event)
    return {**event, "_key": key} if key else event
