"""Quarantine replay benchmark: records rejected under faults, healed once the faults stop, by id and by window;
and the line-aware file-drop CSV reader against the standard library's reader on the same file.

    python -m benchmarks.replay_benchmark --customers 300 --malformed 0.2 --rows 200000

Replay: a sandbox world is served with Odoo answering malformed records at the given rate; `sale_orders` is read
into a fresh store (some orders quarantined, the cursor passes them), then, with the faults gone, an incremental
read and a replay heal them: once fetching the orders by id, once (on a second store) re-reading their window.
Prints the orders quarantined, still waiting after the clean incremental read, healed, still open and lost
(expected ids missing from the store: must be 0), and the replay's seconds and records healed per second for each
method.

CSV: a file of N rows, one in a thousand with a quote that never closes, read by the file-drop reader (each line
decoded on its own, a broken record's swallowed lines read again) and by `csv.DictReader` over the whole file.
Prints rows/s for both and the rows each kept: the standard reader loses the rows a broken quote swallows.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa


def _odoo(url: str, *, by_id: bool) -> object:
    from canalis.connectors.odoo import OdooConnector
    from canalis.connectors.odoo.settings import OdooSettings
    from canalis.sandbox.emulators.odoo import API_KEY, DATABASE, LOGIN

    class WindowOnly(OdooConnector):
        def fetches_by_id(self, stream: str) -> bool:
            return False

    kind = OdooConnector if by_id else WindowOnly
    settings = OdooSettings(url=url, database=DATABASE, login=LOGIN, api_key=API_KEY, page_size=100)
    return kind(settings, connection="odoo", sleep=lambda _: None)


def replay(customers: int, malformed: float) -> None:
    import canalis.sandbox.server.app as sandbox_app
    from canalis.ingest.replay import replay_stream
    from canalis.ingest.stream import ingest_stream
    from canalis.sandbox.emulators.odoo import OdooEmulator
    from canalis.sandbox.objectstore import ObjectStore
    from canalis.sandbox.server import SandboxServer
    from canalis.sandbox.world import WorldSpec, generate_world, store_path
    from canalis.store import Store, tables

    with tempfile.TemporaryDirectory() as folder:
        world = Path(folder) / "world"
        world.mkdir()
        generate_world(WorldSpec(seed=7, customers=customers), world)
        os.link(store_path(world), world / "sandbox.db")
        objects = ObjectStore(store_path(world))
        expected = {str(item.object_id) for item in objects.iter_all("odoo", "sale.order")}
        objects.close()
        sandbox_app.load_emulators = lambda: [OdooEmulator]  # the other vendors stay out
        print(f"replay: {len(expected)} Odoo sale orders, malformed rate {malformed:.0%}")
        header = f"  {'method':<8} {'quarantined':>11} {'waiting':>8} {'healed':>7} {'open':>5} {'lost':>5}"
        print(f"{header} {'seconds':>8} {'healed/s':>9}")
        for method in ("by id", "window"):
            name = method.replace(" ", "-")
            store = Store(f"sqlite:///{Path(folder) / f'canalis-{name}.db'}")
            store.migrate()
            with SandboxServer(world, faults=f"odoo:malformed={malformed}", seed=3) as broken:
                first = ingest_stream(store, _odoo(broken.url("odoo"), by_id=True), "sale_orders")
            with SandboxServer(world) as clean:
                connector = _odoo(clean.url("odoo"), by_id=method == "by id")
                ingest_stream(store, connector, "sale_orders")
                waiting = store.open_quarantine_count()
                started = time.perf_counter()
                report = replay_stream(store, connector, "sale_orders", limit=100_000)
                seconds = time.perf_counter() - started
            with store.engine.connect() as conn:
                landed = set(conn.execute(sa.select(tables.raw_records.c.record_id)).scalars())
            lost = len(expected - landed)
            rate = report.healed / seconds if seconds else 0.0
            counts = f"{first.quarantined:>11} {waiting:>8} {report.healed:>7} {report.still_open:>5} {lost:>5}"
            print(f"  {method:<8} {counts} {seconds:>8.2f} {rate:>9.0f}")
            store.close()


def csv_reading(rows: int) -> None:
    from canalis.connectors.file_drop.reader import read_rows
    from canalis.sdk.streams import Rejected

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        with path.open("w", encoding="utf-8") as handle:
            handle.write("id,first_name,last_name,email,city\n")
            for n in range(rows):
                name = f'"Dubois{n}' if n % 1000 == 500 else f"Dubois{n}"
                handle.write(f"W{n},Camille,{name},camille.{n}@example.fr,Paris\n")
        started = time.perf_counter()
        kept = sum(1 for row in read_rows(path, delimiter=",", encoding="utf-8") if not isinstance(row, Rejected))
        ours = time.perf_counter() - started
        started = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as handle:
            # rows a broken quote swallowed come back merged into one row with missing columns (None values)
            plain = sum(1 for row in csv.DictReader(handle) if None not in row.values() and None not in row)
        theirs = time.perf_counter() - started
        broken = rows // 1000
        print(f"csv: {rows} rows, {broken} with a quote that never closes")
        print(f"  file-drop reader: {rows / ours:>10,.0f} rows/s, {kept} rows kept")
        print(f"  csv.DictReader:   {rows / theirs:>10,.0f} rows/s, {plain} rows kept")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--malformed", type=float, default=0.2)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    replay(args.customers, args.malformed)
    csv_reading(args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
