"""Generate a whole world into a data dir: the object store, the support Maildir and the ground truth."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict
from itertools import chain, islice
from pathlib import Path
from typing import Any

from canalis.sandbox.objectstore import ObjectStore, TruthInconsistency, encode_payload
from canalis.sandbox.world import maildir
from canalis.sandbox.world.catalog import build_catalog
from canalis.sandbox.world.chunks import (
    ChunkResult,
    ChunkSetting,
    ChunkTask,
    emit_chunk,
    emit_chunk_in_worker,
    init_worker,
)
from canalis.sandbox.world.context import WorldContext
from canalis.sandbox.world.people import Person, PersonFactory, Pools, stable_rng
from canalis.sandbox.world.spec import WorldSpec, WorldSummary
from canalis.sandbox.world.systems import brevo, hubspot, mailchimp, odoo, salesforce, shopify, square
from canalis.sandbox.world.truth import ground_truth_document

STORE_FILE = "world.db"
GROUND_TRUTH_FILE = "ground_truth.json"
GROUND_TRUTH_MAX_RECORDS = 200_000

log = logging.getLogger(__name__)

CATALOG_EMITTERS: tuple[Callable[[WorldContext], None], ...] = (
    odoo.emit_catalog,
    shopify.emit_catalog,
    square.emit_catalog,
    salesforce.emit_catalog,
    hubspot.emit_catalog,
    brevo.emit_catalog,
    mailchimp.emit_catalog,
)


def store_path(data_dir: Path) -> Path:
    """Where a world's object store lives inside its data dir."""
    return Path(data_dir) / STORE_FILE


def _reset(data_dir: Path) -> None:
    for name in (STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm", GROUND_TRUTH_FILE):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / "maildir", ignore_errors=True)


def _inject_person_faults(spec: WorldSpec, people: list[Person], ctx: WorldContext) -> list[TruthInconsistency]:
    """Pick a few ordinary persons of the first chunk and give each one customer-side inconsistency."""
    rng = stable_rng(spec.seed, "person-faults")
    plain = [p for p in people if not (p.household_of or p.namesake_of or p.company or p.email_shared)]
    chosen = rng.sample(plain, k=min(len(plain), 4 * spec.faults_per_kind))
    found: list[TruthInconsistency] = []

    def record(kind: str, person: Person, channels: list[str], details: dict[str, Any]) -> None:
        ctx.fault_details[(person.person_id, kind)] = details
        found.append(TruthInconsistency("", kind, person.person_id, channels, details))

    per_kind = spec.faults_per_kind
    for n, person in enumerate(chosen):
        kind_index, slot = divmod(n, per_kind)
        if kind_index == 0:
            wrong = person.birth_date.replace(year=person.birth_date.year - rng.randint(1, 9))
            if wrong.month == 2 and wrong.day == 29:  # pragma: no cover - depends on the seed
                wrong = wrong.replace(day=28)
            person.faults["birth_date_conflict"] = wrong.isoformat()
            person.systems |= {"salesforce", "hubspot"}
            record(
                "customer_attribute_conflict",
                person,
                ["salesforce", "hubspot"],
                {
                    "attribute": "birth_date",
                    "values": {"salesforce": person.birth_date.isoformat(), "hubspot": wrong.isoformat()},
                },
            )
        elif kind_index == 1:
            channel = ("shopify", "hubspot", "square")[slot % 3]
            person.faults["duplicate"] = channel
            person.systems.add(channel)
            record("duplicate_in_channel", person, [channel], {"record_ids": []})
        elif kind_index == 2:
            channel = ("brevo", "salesforce", "hubspot")[slot % 3]
            person.consent = "subscribed"
            person.faults["consent_optout"] = channel
            person.systems |= {channel, "shopify"}
            record(
                "consent_conflict", person, [channel, "shopify"], {"opted_out_in": channel, "subscribed_in": "shopify"}
            )
        else:
            channel = ("salesforce", "hubspot")[slot % 2]
            person.consent = "subscribed"
            person.faults["open_complaint"] = channel
            person.systems |= {channel, "shopify"}
            subscribed = sorted({"shopify"} | ({"brevo"} if "brevo" in person.systems else set()))
            record(
                "complaint_targeted_by_promotion",
                person,
                [channel, *subscribed],
                {"complaint_system": channel, "subscribed_in": subscribed, "case_id": None},
            )
    return found


def _chunk_tasks(spec: WorldSpec, ctx: WorldContext, inconsistencies: list[TruthInconsistency]) -> Iterator[ChunkTask]:
    """The persons chunk by chunk (made here, in order: emails are unique across the world), faults in the first."""
    factory = PersonFactory(spec, Pools(spec))
    for n, people in enumerate(factory.chunks()):
        details: dict[tuple[str, str], dict[str, Any]] = {}
        if n == 0 and spec.inject_inconsistencies:
            inconsistencies += _inject_person_faults(spec, people, ctx)
            details = ctx.fault_details
        yield ChunkTask(n, people, details)


def _chunk_results(setting: ChunkSetting, tasks: Iterator[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    """Each chunk's result in chunk order, made by worker processes when there are several chunks and workers.

    Persons are made only a few chunks ahead of the results written, so memory does not grow with the world.
    """
    ahead = list(islice(tasks, 2))
    if len(ahead) < 2 or workers <= 1:
        for task in chain(ahead, tasks):
            yield emit_chunk(setting, task)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that may run threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=(setting,)) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        for task in chain(ahead, tasks):
            pending.append(pool.submit(emit_chunk_in_worker, task))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _generate_objects(
    spec: WorldSpec, store: ObjectStore, data_dir: Path, workers: int
) -> tuple[list[TruthInconsistency], WorldContext]:
    """Catalogue, persons and lists into the store and Maildir; the inconsistencies injected and the context."""
    catalog = build_catalog(spec)
    ctx = WorldContext(spec=spec, store=store, catalog=catalog)
    for emit in CATALOG_EMITTERS:
        emit(ctx)
    ctx.flush()
    inconsistencies = list(catalog.inconsistencies)
    setting = ChunkSetting(spec, catalog, dict(ctx.counters.last), maildir.prepare(data_dir))
    brevo_lists: Counter[int] = ctx.tallies.setdefault("brevo_lists", Counter())
    chunks = -(-spec.customers // spec.chunk_size)
    for result in _chunk_results(setting, _chunk_tasks(spec, ctx, inconsistencies), workers):
        store.put_encoded(((system, kind, rows) for (system, kind), rows in result.rows.items()), result.truth)
        for key, count in result.used.items():
            ctx.tallies[key] += count
        for key, last in result.numeric_ids.items():
            ctx.numeric_ids[key] = max(last, ctx.numeric_ids.get(key, last))
        brevo_lists.update(result.brevo_lists)
        ctx.tallies["brevo_blacklisted"] += result.brevo_blacklisted
        for key, details in result.fault_details.items():
            ctx.fault_details[key].update(details)  # the same dicts as the inconsistencies' details
        log.info("world chunk %d of %d written", result.number + 1, chunks)
    brevo.emit_lists(ctx)
    ctx.flush()
    return inconsistencies, ctx


def default_workers() -> int:
    """Worker processes for a world of several chunks: one per core, at most 4 (CANALIS_WORLD_WORKERS overrides)."""
    configured = os.environ.get("CANALIS_WORLD_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, min(4, os.cpu_count() or 1))


def generate_world(spec: WorldSpec, data_dir: Path, *, workers: int | None = None) -> WorldSummary:
    """Generate the world described by the spec into data_dir (replacing any world already there).

    The same spec gives the same world whatever the number of worker processes (default: `default_workers()`).
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    _reset(data_dir)
    store = ObjectStore(store_path(data_dir))
    try:
        with store.bulk_load():
            inconsistencies, ctx = _generate_objects(
                spec, store, data_dir, default_workers() if workers is None else workers
            )
        for (system, object_type), last in sorted(ctx.numeric_ids.items()):
            store.set_last_numeric_id(system, object_type, last)
        store.put_truth_inconsistencies(
            TruthInconsistency(f"INC-{n + 1:04d}", i.kind, i.entity, i.channels, i.details)
            for n, i in enumerate(inconsistencies)
        )
        store.kv_put("world:spec", {**asdict(spec), "now": spec.now.isoformat()})
        truth_records = store.count_truth_records()
        if truth_records <= GROUND_TRUTH_MAX_RECORDS:
            document = ground_truth_document(store)
            (data_dir / GROUND_TRUTH_FILE).write_text(encode_payload(document))  # json.dumps's layout, faster
        summary = WorldSummary(
            seed=spec.seed,
            customers=spec.customers,
            data_dir=str(data_dir),
            store_path=str(store_path(data_dir)),
            truth_records=truth_records,
            maildir_messages=ctx.tallies[("mailbox", "messages")],
        )
        for system, object_type, count in store.object_types():
            summary.objects.setdefault(system, {})[object_type] = count
        for item in inconsistencies:
            summary.inconsistencies[item.kind] = summary.inconsistencies.get(item.kind, 0) + 1
    finally:
        store.close()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a world into a directory and print its summary as JSON."""
    parser = argparse.ArgumentParser(description="Generate the Canalis sandbox world.")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-inconsistencies", action="store_true")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core, max 4)")
    args = parser.parse_args(argv)
    spec = WorldSpec(seed=args.seed, customers=args.customers, inject_inconsistencies=not args.no_inconsistencies)
    print(json.dumps(asdict(generate_world(spec, args.data_dir, workers=args.workers)), indent=2))


if __name__ == "__main__":
    main()
