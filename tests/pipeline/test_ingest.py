"""Landing a stream: small pages are stored together, and a read that fails keeps every page before the failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
import sqlalchemy as sa

from assets.pipeline import ingest
from assets.pipeline.ingest import ingest_stream
from connectors.sdk.state import StreamState
from connectors.sdk.streams import Page, Stream
from mappings.store import Store, tables


class Items(Stream):
    name: ClassVar[str] = "items"
    primary_key: ClassVar[str] = "id"
    cursor_field: ClassVar[str | None] = "updated"


class PagedSource:
    """A connector reading `pages` pages of `size` records, failing before page `fail_at` when given."""

    connection = "source"

    def __init__(self, pages: int, size: int, fail_at: int | None = None, seconds_per_page: float = 0.0) -> None:
        self.pages, self.size, self.fail_at, self.seconds_per_page = pages, size, fail_at, seconds_per_page

    def stream(self, name: str) -> type[Stream]:
        return Items

    def read(self, stream: str, state: StreamState) -> Iterator[Page]:
        for number in range(self.pages):
            time.sleep(self.seconds_per_page)
            if number == self.fail_at:
                raise RuntimeError("source: GET /items answered 503")
            records = [
                {"id": f"{number:03d}-{i:03d}", "updated": f"2026-01-01T00:{number:02d}"} for i in range(self.size)
            ]
            yield Page(records, StreamState(cursor=f"page-{number}"))


def _commits(store: Store) -> list[str]:
    seen: list[str] = []
    sa.event.listen(store.engine, "commit", lambda conn: seen.append("commit"))
    return seen


def test_small_pages_are_stored_together_in_few_commits(store: Store) -> None:
    commits = _commits(store)
    # each page arrives after the last one is stored: without waiting for more, every page would be its own commit
    report = ingest_stream(store, PagedSource(pages=30, size=10, seconds_per_page=0.005), "items")

    assert report.records_read == 300 and report.pages == 30
    assert store.count(tables.raw_records) == 300
    assert len(commits) < 10, "30 pages of 10 records need not commit 30 times"
    assert store.get_state("source", "items")["cursor"] == "page-29"


def test_a_failing_read_keeps_the_pages_before_the_failure_and_their_state(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(ingest, "MIN_GROUP_RECORDS", 10_000)  # every page waits for the next one
    with pytest.raises(RuntimeError, match="503"):
        ingest_stream(store, PagedSource(pages=30, size=10, fail_at=7), "items")

    assert store.count(tables.raw_records) == 70
    assert store.get_state("source", "items")["cursor"] == "page-6"
