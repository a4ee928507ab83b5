"""Landing a stream: small pages are stored together, and a read that fails keeps every page before the failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
import sqlalchemy as sa

from canalis.ingest import landing
from canalis.ingest.stream import ingest_stream
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page, Stream
from canalis.store import StaleStateError, Store, tables


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
    monkeypatch.setattr(landing, "MIN_GROUP_RECORDS", 10_000)  # every page waits for the next one
    with pytest.raises(RuntimeError, match="503"):
        ingest_stream(store, PagedSource(pages=30, size=10, fail_at=7), "items")

    assert store.count(tables.raw_records) == 70
    assert store.get_state("source", "items")["cursor"] == "page-6"


class BrokenAt(PagedSource):
    """Pages of which one holds a record without an id, which the landing table cannot take."""

    def __init__(self, pages: int, size: int, broken_page: int) -> None:
        super().__init__(pages, size)
        self.broken_page = broken_page
        self.pages_read = 0

    def read(self, stream: str, state: StreamState) -> Iterator[Page]:
        for number, page in enumerate(super().read(stream, state)):
            self.pages_read += 1
            if number == self.broken_page:
                page.records[3] = {"id": None, "updated": "2026-01-01T00:00"}
            yield page


def _raw_contents(store: Store) -> list[tuple]:
    raw = tables.raw_records
    columns = [raw.c.source, raw.c.stream, raw.c.record_id, raw.c.cursor_value, raw.c.payload, raw.c.content_hash]
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(raw.c.record_id))]


@pytest.fixture
def early_hand_off(monkeypatch):
    monkeypatch.setattr(landing, "HANDOFF_RECORDS", 50)  # a writer process after five pages of ten
    monkeypatch.setattr(landing, "GROUP_RECORDS", 20)  # (in this process) groups of two pages
    monkeypatch.setenv(landing.WRITER_ENV, "1")


def test_a_long_stream_is_stored_by_a_writer_process_as_in_process(tmp_path, store: Store, early_hand_off, monkeypatch):
    report = ingest_stream(store, PagedSource(pages=30, size=10), "items")
    monkeypatch.setenv(landing.WRITER_ENV, "0")
    reference = Store(f"sqlite:///{tmp_path / 'in_process.db'}")
    reference.migrate()
    expected = ingest_stream(reference, PagedSource(pages=30, size=10), "items")

    assert report.writer_process and not expected.writer_process
    assert (report.records_read, report.inserted, report.pages) == (expected.records_read, expected.inserted, 30)
    assert report.records_read == 300 and report.cursor == "page-29" == expected.cursor
    assert _raw_contents(store) == _raw_contents(reference)
    assert store.get_state("source", "items")["cursor"] == "page-29"
    assert store.open_batch("source", "items") is None  # the batch the writer wrote in is finished
    again = ingest_stream(store, PagedSource(pages=30, size=10), "items")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 300)


def test_a_failing_read_after_the_hand_off_keeps_every_page_before_it(store: Store, early_hand_off) -> None:
    with pytest.raises(RuntimeError, match="503"):
        ingest_stream(store, PagedSource(pages=30, size=10, fail_at=20), "items")

    assert store.count(tables.raw_records) == 200
    assert store.get_state("source", "items")["cursor"] == "page-19"
    assert store.open_batch("source", "items") is None


def test_a_writer_process_that_fails_stops_the_read_with_its_error(store: Store, early_hand_off) -> None:
    source = BrokenAt(pages=3000, size=10, broken_page=8)
    with pytest.raises(sa.exc.IntegrityError, match="record_id"):
        ingest_stream(store, source, "items")

    assert source.pages_read < 3000  # the read stopped soon after the writer's error, not at the end
    stored = store.count(tables.raw_records)
    assert 50 <= stored < 80 and stored % 10 == 0  # the groups committed before the broken page, whole
    assert store.get_state("source", "items")["cursor"] == f"page-{stored // 10 - 1}"


def test_an_in_memory_store_is_always_written_in_process(early_hand_off) -> None:
    from sqlalchemy.pool import StaticPool

    engine = sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    store = Store("sqlite://", engine=engine)
    store.migrate()
    report = ingest_stream(store, PagedSource(pages=12, size=10), "items")
    assert not report.writer_process and store.count(tables.raw_records) == 120


def test_a_bad_writer_setting_fails_naming_it(store: Store, monkeypatch) -> None:
    from canalis.sdk.errors import ConfigError

    monkeypatch.setenv(landing.WRITER_ENV, "yes please")
    with pytest.raises(ConfigError, match=landing.WRITER_ENV) as caught:
        ingest_stream(store, PagedSource(pages=1, size=1), "items")
    assert caught.value.setting == landing.WRITER_ENV
    assert store.count(tables.raw_records) == 0


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_a_writer_process_stores_on_a_server_database_as_on_sqlite(tmp_path, request, server, early_hand_off):
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    on_server = Store(request.getfixturevalue(server))
    for store in (reference, on_server):
        store.migrate()
        report = ingest_stream(store, PagedSource(pages=20, size=10), "items")
        assert report.writer_process and report.inserted == 200
    assert _raw_contents(on_server) == _raw_contents(reference)


class OvertakenSource(PagedSource):
    """A source during whose read another run saves the stream's state (its cursor is further on)."""

    def __init__(self, store: Store, overtaken_after: int, **options) -> None:
        super().__init__(**options)
        self.store, self.overtaken_after = store, overtaken_after

    def read(self, stream: str, state: StreamState) -> Iterator[Page]:
        for number, page in enumerate(super().read(stream, state)):
            if number == self.overtaken_after:
                with self.store.begin() as conn:  # the other run commits while this read is going on
                    self.store.save_state(conn, "source", "items", {"cursor": "other-run"}, "run-B")
            yield page


@pytest.mark.parametrize("early", [False, True], ids=["in process", "writer process"])
def test_a_read_overtaken_by_another_run_saves_nothing_more(store: Store, monkeypatch, early: bool) -> None:
    if early:
        monkeypatch.setattr(landing, "HANDOFF_RECORDS", 20)
        monkeypatch.setenv(landing.WRITER_ENV, "1")
    source = OvertakenSource(store, overtaken_after=5, pages=40, size=10, seconds_per_page=0.01)
    with pytest.raises(StaleStateError, match="another run saved this stream's cursor"):
        ingest_stream(store, source, "items", run_id="run-A")
    assert store.get_state("source", "items") == {"cursor": "other-run"}  # the other run's cursor stands
    stored = store.count(tables.raw_records)
    assert stored % 10 == 0 and stored < 400  # whole groups from before the overtaking, nothing after


def test_each_save_checks_the_version_it_continues(store: Store) -> None:
    with store.begin() as conn:
        assert store.save_state(conn, "crm", "contacts", {"cursor": "a"}, "r1", expected_version=0) == 1
        assert store.save_state(conn, "crm", "contacts", {"cursor": "b"}, "r1", expected_version=1) == 2
    assert store.read_state("crm", "contacts") == ({"cursor": "b"}, 2)
    with pytest.raises(StaleStateError), store.begin() as conn:
        store.save_state(conn, "crm", "contacts", {"cursor": "stale"}, "r2", expected_version=1)
    with pytest.raises(StaleStateError), store.begin() as conn:
        store.save_state(conn, "crm", "contacts", {"cursor": "first?"}, "r3", expected_version=0)
    assert store.read_state("crm", "contacts") == ({"cursor": "b"}, 2)


def test_a_group_of_pages_is_stored_with_the_cycle_collector_paused(store: Store, monkeypatch) -> None:
    import gc

    collecting: list[bool] = []
    real_upsert = landing.upsert

    def spied(*args, **kwargs):
        collecting.append(gc.isenabled())
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(landing, "upsert", spied)
    report = ingest_stream(store, PagedSource(pages=3, size=10), "items")
    assert report.records_read == 30 and store.count(tables.raw_records) == 30
    assert collecting and not any(collecting)  # paused while the rows were built and written
    assert gc.isenabled()  # and running again after
