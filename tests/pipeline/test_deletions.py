"""Records deleted or archived at the source become tombstones; the rows they fed and their golden records go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa

from canalis.canonical.canonicalize import canonicalize_entities
from canalis.connectors.file_drop import FileDropConnector
from canalis.connectors.registry import shipped_mapping
from canalis.identity import IdentityConfig
from canalis.identity.persistence import resolve_customers
from canalis.ingest.stream import ingest_stream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sdk import CheckResult, Connector, ConnectorSettings, Deletion, Page, Stream
from canalis.sdk.state import StreamState
from canalis.store import Store, tables

HEADER = "id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,accepts_marketing,updated_at\n"
ENTITIES = ["customer_record", "consent"]


def _row(n: int) -> str:
    given, family, city = (
        ("Ann", "Bob", "Cleo")[n - 1],
        ("Lee", "Martin", "Okafor")[n - 1],
        ("Paris", "Lyon", "Lille")[n - 1],
    )
    return (
        f"C{n},{given},{family},person{n}@example.org,+3361234{n}{n}{n}{n},198{n}-0{n}-1{n},{n} rue {family},"
        f"7500{n},{city},France,yes,2026-01-01T00:00:00Z\n"
    )


def _drop(tmp_path: Path, rows: list[str], *, detect: bool) -> FileDropConnector:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    (folder / "customers.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    return FileDropConnector.from_config({"path": str(folder), "detect_deletes": detect}, connection="shop")


def _mapper() -> Mapper:
    return Mapper(load_mapping(shipped_mapping("file_drop")), connection="shop", channel="web")


def _keys(store: Store, table: sa.Table, column: str) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(table.c[column])).scalars())


def _sync(store: Store, connector: Connector) -> tuple[int, int]:
    report = ingest_stream(store, connector, "customers")
    canonical = canonicalize_entities(store, {"shop": _mapper()}, ENTITIES)
    resolve_customers(store.engine, config=IdentityConfig())
    return report.deleted, canonical["customer_record"].deleted


def test_rows_gone_from_the_files_are_tombstoned_and_stop_contributing(tmp_path: Path, store: Store) -> None:
    assert _sync(store, _drop(tmp_path, [_row(1), _row(2), _row(3)], detect=True)) == (0, 0)
    assert _keys(store, tables.customer_records, "record_key") == {f"shop:customers:C{n}" for n in (1, 2, 3)}
    assert store.count(tables.customers) == 3

    assert _sync(store, _drop(tmp_path, [_row(1), _row(3)], detect=True)) == (1, 1)
    assert _keys(store, tables.raw_records, "record_id") == {"C1", "C3"}
    assert _keys(store, tables.customer_records, "record_key") == {"shop:customers:C1", "shop:customers:C3"}
    assert "shop:customers:C2" not in _keys(store, tables.contact_points, "record_key")
    assert "shop:customers:C2" not in _keys(store, tables.consents, "record_key")
    assert "shop:customers:C2" not in _keys(store, tables.source_identities, "record_key")
    assert store.count(tables.customers) == 2
    tomb = tables.source_deletions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(tomb)).one()
    assert (row.record_id, row.kind, row.payload) == ("C2", "missing", None)
    assert row.applied_at is not None

    # nothing new is buried on the next read, and a row that comes back lands again
    assert _sync(store, _drop(tmp_path, [_row(1), _row(3)], detect=True)) == (0, 0)
    assert _sync(store, _drop(tmp_path, [_row(1), _row(2), _row(3)], detect=True)) == (0, 0)
    assert "shop:customers:C2" in _keys(store, tables.customer_records, "record_key")
    assert store.count(tables.source_deletions) == 0
    assert store.count(tables.customers) == 3


def test_rows_gone_from_the_files_stay_without_the_setting(tmp_path: Path, store: Store) -> None:
    _sync(store, _drop(tmp_path, [_row(1), _row(2)], detect=False))
    assert _sync(store, _drop(tmp_path, [_row(1)], detect=False)) == (0, 0)
    assert store.count(tables.customer_records) == 2
    assert store.count(tables.source_deletions) == 0


def test_an_empty_complete_read_is_not_taken_for_every_record_deleted(tmp_path: Path, store: Store) -> None:
    _sync(store, _drop(tmp_path, [_row(1), _row(2)], detect=True))
    (tmp_path / "drop" / "customers.csv").unlink()
    connector = FileDropConnector.from_config(
        {"path": str(tmp_path / "drop"), "detect_deletes": True}, connection="shop"
    )
    assert ingest_stream(store, connector, "customers").deleted == 0
    assert store.count(tables.raw_records) == 2


class _Item(Stream):
    name = "items"
    primary_key = "id"
    deleted_when: ClassVar[tuple[str, Any]] = ("archived", True)
    deletion_kind = "archived"


class _Marked(Connector):
    """A source that lists archived records with a flag and reports hard deletes by id."""

    name = "marked"
    kind = "crm"
    settings_model = ConnectorSettings
    streams = (_Item,)
    pages_to_read: ClassVar[list[Page]] = []

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message="ok")

    def read_items(self, state: StreamState) -> Iterator[Page]:
        yield from self.pages_to_read


def test_flagged_and_reported_deletions_become_tombstones(store: Store) -> None:
    connector = _Marked(ConnectorSettings(), connection="crm")
    state = StreamState.empty("datetime")
    connector.pages_to_read = [
        Page(records=[{"id": "1", "n": 1}, {"id": "2", "n": 2}, {"id": "3", "n": 3}], state=state)
    ]
    assert ingest_stream(store, connector, "items").deleted == 0
    connector.pages_to_read = [
        Page(records=[{"id": "1", "archived": True}], state=state, deleted=[Deletion("2"), Deletion("9")])
    ]
    report = ingest_stream(store, connector, "items")
    assert report.deleted == 3
    tomb = tables.source_deletions
    with store.engine.connect() as conn:
        rows = {row.record_id: row for row in conn.execute(sa.select(tomb))}
    assert {key: row.kind for key, row in rows.items()} == {"1": "archived", "2": "deleted", "9": "deleted"}
    assert rows["1"].payload == {"id": "1", "n": 1}  # the version that was stored and mapped
    assert rows["9"].applied_at is not None and rows["9"].payload is None  # never stored: nothing to remove
    assert _keys(store, tables.raw_records, "record_id") == {"3"}
    # told again, nothing changes
    assert ingest_stream(store, connector, "items").deleted == 0


def test_a_complete_read_in_many_pages_buries_exactly_the_missing_rows(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()

    def read(ids: list[int]) -> int:
        rows = "".join(f"C{n},Ann,Lee{n},p{n}@example.org,,,,,,,yes,2026-01-01T00:00:00Z\n" for n in ids)
        (folder / "customers.csv").write_text(HEADER + rows, encoding="utf-8")
        settings = {"path": str(folder), "detect_deletes": True, "page_size": 2}
        connector = FileDropConnector.from_config(settings, connection="shop")
        return ingest_stream(store, connector, "customers").deleted

    assert read(list(range(40))) == 0
    # the pages of a read are stored in groups: every page of every group counts as seen
    assert read([n for n in range(40) if n not in (3, 17, 38)]) == 3
    assert _keys(store, tables.source_deletions, "record_id") == {"C3", "C17", "C38"}
