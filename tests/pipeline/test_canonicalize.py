"""The canonical pass: one read per stream, per-entity progress, child rows replaced only when a parent changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.canonical.canonicalize import canonicalize, canonicalize_entities
from canalis.connectors.file_drop import FileDropConnector
from canalis.connectors.registry import shipped_mapping
from canalis.ingest.stream import ingest_stream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.store import Store, tables

HEADER = "id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,accepts_marketing,updated_at\n"


def _row(n: int, email: str) -> str:
    return f"C{n},Ann,Lee,{email},+33612345{n:03d},1990-01-01,1 rue A,75001,Paris,France,yes,2026-01-01T00:00:00Z\n"


def _setup(tmp_path: Path, store: Store, rows: list[str]) -> tuple[FileDropConnector, Mapper]:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    (folder / "customers.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(folder)}, connection="shop")
    return connector, Mapper(load_mapping(shipped_mapping("file_drop")), connection="shop", channel="web")


def _contact_points(store: Store) -> set[tuple[str, str, str]]:
    cp = tables.contact_points
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.select(cp.c.record_key, cp.c.kind, cp.c.value))}


def test_changed_record_replaces_its_contact_points_only(tmp_path: Path, store: Store) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org"), _row(2, "b@example.org")])
    ingest_stream(store, connector, "customers")
    reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"])
    assert reports["customer_record"].counts.inserted == 2 and reports["consent"].counts.inserted == 2
    before = _contact_points(store)
    assert ("shop:customers:C1", "email", "a@example.org") in before

    connector, _ = _setup(tmp_path, store, [_row(1, "new@example.org"), _row(2, "b@example.org")])
    ingest_stream(store, connector, "customers")
    reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"])
    assert reports["customer_record"].raw_records == 1  # only the changed raw record is read again
    after = _contact_points(store)
    assert ("shop:customers:C1", "email", "new@example.org") in after
    assert ("shop:customers:C1", "email", "a@example.org") not in after
    assert {p for p in before if p[0] == "shop:customers:C2"} == {p for p in after if p[0] == "shop:customers:C2"}


def test_a_record_that_loses_every_contact_point_keeps_none(tmp_path: Path, store: Store) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    canonicalize_entities(store, {"shop": mapper}, ["customer_record"])
    assert {p[1] for p in _contact_points(store)} == {"email", "phone", "postal"}

    bare = "C1,Ann,Lee,,,1990-01-01,,,,,yes,2026-01-02T00:00:00Z\n"
    connector, _ = _setup(tmp_path, store, [bare])
    ingest_stream(store, connector, "customers")
    assert canonicalize_entities(store, {"shop": mapper}, ["customer_record"])["customer_record"].counts.updated == 1
    assert _contact_points(store) == set()


def test_a_pass_over_one_entity_does_not_make_another_skip_records(tmp_path: Path, store: Store) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    assert canonicalize(store, {"shop": mapper}, "customer_record").mapped == 1
    consent = canonicalize(store, {"shop": mapper}, "consent")
    assert consent.mapped == 1
    assert store.count(tables.consents) == 1
    assert canonicalize(store, {"shop": mapper}, "consent").raw_records == 0


def test_a_record_fixed_at_the_source_leaves_quarantine(tmp_path: Path, store: Store) -> None:
    bad = _row(1, "a@example.org").replace("1990-01-01", "1990-02-31")
    connector, mapper = _setup(tmp_path, store, [bad])
    ingest_stream(store, connector, "customers")
    report = canonicalize(store, {"shop": mapper}, "customer_record")
    assert report.quarantined == 1 and "birth_date" in report.quarantine_reasons[0]
    assert store.open_quarantine_count() == 1
    connector, _ = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    assert canonicalize(store, {"shop": mapper}, "customer_record").mapped == 1
    assert store.open_quarantine_count() == 0


def _table_contents(store: Store) -> dict[str, set[tuple]]:
    skip = {"loaded_at", "updated_at"}
    contents: dict[str, set[tuple]] = {}
    with store.engine.connect() as conn:
        for table in (tables.customer_records, tables.contact_points, tables.consents):
            columns = [column for column in table.c if column.name not in skip]
            rows = conn.execute(sa.select(*columns))
            contents[table.name] = {tuple(repr(value) for value in row) for row in rows}
    return contents


def _long_drop(tmp_path: Path, store: Store, count: int) -> Mapper:
    rows = [_row(n, f"ann.lee.{n}@example.fr") for n in range(count)]
    rows[7] = "C7,Ann,Lee,ann@example.fr,+33612345007,1990-01-01,1 rue A,75001,Paris,France,yes,not a date\n"
    connector, mapper = _setup(tmp_path, store, rows)
    ingest_stream(store, connector, "customers")
    return mapper


def test_a_long_pass_maps_in_worker_processes_with_the_same_result(tmp_path: Path) -> None:
    in_process = Store(f"sqlite:///{tmp_path / 'one.db'}")
    pooled = Store(f"sqlite:///{tmp_path / 'pool.db'}")
    results = {}
    for name, store, workers in (("one", in_process, 0), ("pool", pooled, 2)):
        store.migrate()
        (tmp_path / name).mkdir()
        mapper = _long_drop(tmp_path / name, store, 4500)  # more than two chunks
        reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"], workers=workers)
        results[name] = (reports["customer_record"].mapped, reports["customer_record"].quarantined)
    assert results["one"] == results["pool"] == (4499, 1)
    assert _table_contents(in_process) == _table_contents(pooled)
    assert in_process.open_quarantine_count() == pooled.open_quarantine_count() == 1


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_a_long_pass_on_a_server_database_matches_sqlite(tmp_path: Path, request, server: str) -> None:
    reference = Store(f"sqlite:///{tmp_path / 'one.db'}")
    on_server = Store(request.getfixturevalue(server))
    for name, store in (("sqlite", reference), ("server", on_server)):
        store.migrate()
        (tmp_path / name).mkdir()
        mapper = _long_drop(tmp_path / name, store, 4500)
        reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"], workers=2)
        assert (reports["customer_record"].mapped, reports["customer_record"].quarantined) == (4499, 1)
    assert _table_contents(on_server) == _table_contents(reference)


def test_a_broken_pool_falls_back_to_mapping_in_process(tmp_path: Path, monkeypatch) -> None:
    from concurrent.futures import Executor, Future
    from concurrent.futures.process import BrokenProcessPool

    from canalis.canonical.workers import MappingWorkers

    class DeadPool(Executor):
        def submit(self, fn, /, *args, **kwargs) -> Future:
            future: Future = Future()
            future.set_exception(BrokenProcessPool("a worker died"))
            return future

    original = MappingWorkers.executor
    monkeypatch.setattr(
        MappingWorkers, "executor", lambda self, *, long: DeadPool() if self.workers else original(self, long=long)
    )
    store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
    store.migrate()
    mapper = _long_drop(tmp_path, store, 4500)
    reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record"], workers=2)
    assert reports["customer_record"].mapped == 4499
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.customer_records)).scalar_one() == 4499


def test_a_pass_during_a_read_does_not_skip_records_that_land_later_in_the_same_batch(
    tmp_path: Path, store: Store
) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    canonicalize_entities(store, {"shop": mapper}, ["customer_record"])
    raw = tables.raw_records
    with store.engine.connect() as conn:
        template = dict(conn.execute(sa.select(raw)).mappings().one())

    def land(conn, batch_id: int, record_id: str) -> None:
        payload = dict(template["payload"], id=record_id, email=f"{record_id.lower()}@example.org")
        conn.execute(raw.insert().values(dict(template, record_id=record_id, batch_id=batch_id, payload=payload)))

    with store.begin() as conn:  # a read is under way: its batch is open and has one record so far
        batch = store.new_batch(conn, "shop", "customers", None)
        land(conn, batch, "C9")
    assert store.open_batch("shop", "customers") == batch
    assert canonicalize_entities(store, {"shop": mapper}, ["customer_record"])["customer_record"].mapped == 1
    with store.begin() as conn:  # the read goes on with a record whose id sorts before the first one
        land(conn, batch, "C0")
    store.finish_batch(batch)
    assert store.open_batch("shop", "customers") is None
    canonicalize_entities(store, {"shop": mapper}, ["customer_record"])
    with store.engine.connect() as conn:
        keys = set(conn.execute(sa.select(tables.customer_records.c.record_key)).scalars())
    assert {"shop:customers:C0", "shop:customers:C9"} <= keys


def test_a_daemonic_process_maps_in_process(monkeypatch) -> None:
    import multiprocessing

    from canalis.canonical import workers

    class Daemonic:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemonic())
    pool = workers.MappingWorkers(2)
    assert isinstance(pool.executor(long=True), workers.InProcess)
    assert pool.workers == 0 and pool.ahead == 1


def test_a_bad_worker_count_fails_naming_the_variable(tmp_path: Path, store: Store, monkeypatch) -> None:
    from canalis.sdk.errors import ConfigError

    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    monkeypatch.setenv("CANALIS_MAPPING_WORKERS", "two")
    with pytest.raises(ConfigError, match=r"CANALIS_MAPPING_WORKERS .*'two'"):
        canonicalize_entities(store, {"shop": mapper}, ["customer_record"])
    assert store.count(tables.customer_records) == 0  # nothing was half-mapped
    monkeypatch.setenv("CANALIS_MAPPING_WORKERS", "0")
    assert canonicalize_entities(store, {"shop": mapper}, ["customer_record"])["customer_record"].mapped == 1


def test_mapping_workers_run_at_a_lower_priority_than_the_writer() -> None:
    import os

    from canalis.canonical.workers import WORKER_NICENESS, MappingWorkers

    writer = os.getpriority(os.PRIO_PROCESS, 0)
    with MappingWorkers(1) as pool:
        worker = pool.executor(long=True).submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=60)
    assert worker == min(writer + WORKER_NICENESS, 19)


def test_a_pass_that_fails_keeps_exactly_what_it_committed_and_the_next_one_finishes(
    tmp_path: Path, store: Store, monkeypatch
) -> None:
    from canalis.canonical import canonicalize as pass_module

    monkeypatch.setattr(pass_module, "CHUNK", 500)
    monkeypatch.setattr(pass_module, "COMMIT_RECORDS", 1000)  # two chunks per transaction
    mapper = _long_drop(tmp_path, store, 2600)
    written = pass_module._Pass._store_rows
    calls = []

    def failing_fourth(self, conn, by_table):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        written(self, conn, by_table)

    monkeypatch.setattr(pass_module._Pass, "_store_rows", failing_fourth)
    with pytest.raises(RuntimeError, match="disk full"):
        canonicalize_entities(store, {"shop": mapper}, ["customer_record"], workers=0)
    with store.engine.connect() as conn:
        stored = set(conn.execute(sa.select(tables.customer_records.c.source_id)).scalars())
    state = store.get_state("canonical:customer_record", "shop.customers")
    in_order = sorted(f"C{n}" for n in range(2600))  # the pass reads records in id order
    # the first transaction (chunks 1 and 2) was committed with its position; the third chunk was rolled back
    assert stored == set(in_order[:1000]) - {"C7"}
    assert state is not None and state["extra"]["position"][1] == in_order[999]

    monkeypatch.setattr(pass_module._Pass, "_store_rows", written)
    report = canonicalize_entities(store, {"shop": mapper}, ["customer_record"], workers=0)["customer_record"]
    assert report.raw_records == 1600  # the pass went on from the committed position
    with store.engine.connect() as conn:
        keys = set(conn.execute(sa.select(tables.customer_records.c.record_key)).scalars())
    assert keys == {f"shop:customers:C{n}" for n in range(2600) if n != 7}


def test_a_pass_sets_mapped_chunks_aside_from_the_collector_and_hands_them_back(
    tmp_path: Path, store: Store, monkeypatch
) -> None:
    import gc

    from canalis.canonical import canonicalize as pass_module
    from canalis.canonical.chunks import map_chunk

    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org"), _row(2, "b@example.org")])
    ingest_stream(store, connector, "customers")
    records = [("C1", {"id": "C1", "email": "a@example.org"})]
    map_chunk(mapper, "customers", ["customer_record"], records, pass_module.utcnow())
    assert gc.get_freeze_count() == 0  # outside a pass, nothing is set aside
    frozen: list[int] = []

    def spied(*args, **kwargs):
        result = map_chunk(*args, **kwargs)
        frozen.append(gc.get_freeze_count())
        return result

    monkeypatch.setattr(pass_module, "map_chunk", spied)
    report = canonicalize_entities(store, {"shop": mapper}, ["customer_record"], workers=0)
    assert report["customer_record"].mapped == 2
    assert frozen and all(count > 0 for count in frozen)  # set aside while the pass runs
    assert gc.get_freeze_count() == 0  # and handed back to the collector when it ends


def test_mapping_workers_set_their_chunks_aside_from_the_collector(tmp_path: Path, store: Store) -> None:
    import gc

    from canalis.canonical.chunks import map_chunk
    from canalis.canonical.workers import MappingWorkers
    from canalis.store import utcnow

    _, mapper = _setup(tmp_path, store, [])
    records = [("C1", {"id": "C1", "email": "a@example.org"})]
    with MappingWorkers(1) as pool:
        executor = pool.executor(long=True)
        executor.submit(map_chunk, mapper, "customers", ["customer_record"], records, utcnow()).result(timeout=60)
        assert executor.submit(gc.get_freeze_count).result(timeout=60) > 0
