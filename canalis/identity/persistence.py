"""Identity resolution against the store: read customer_records, write source_identities, customers and state.

The store path runs the same engine as the offline command. A full run reads every record, resolves them in
memory (learning a new model) and writes every assignment, link and golden record in bulk. It also saves the
engine's resolved state (identity_state: features, block codes, assignments, link graph, ids, model). An
incremental run restores that state, reads only the records whose content_hash changed since they were last
resolved (and the removed ones), lets the engine resolve the part of the link graph they touch, and writes
what changed. Steward decisions and reviewed merges go through the same incremental path. Without a saved
state (a store written by an older version), a run is full.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, func, select

from canalis.collector import collector_paused
from canalis.identity.bulk import (
    delete_ids,
    delete_where_in,
    insert_columns,
    insert_rows,
    key_holder,
    select_where_in,
)
from canalis.identity.clusters import RULES, STATUS_NAMES
from canalis.identity.compare import FIELD_NAMES, FIELDS
from canalis.identity.config import IdentityConfig
from canalis.identity.engine import IdentityEngine, Resolution
from canalis.identity.outcome import Outcome
from canalis.identity.overrides import FORCE_MERGE, KINDS, NEVER_MERGE, Override, Overrides
from canalis.identity.records import IdentityRecord
from canalis.identity.report import ResolutionReport
from canalis.identity.resolver import BatchResult
from canalis.identity.scoring import MatchModel
from canalis.identity.state import PIECE_BYTES, join, pieces
from canalis.identity.survivorship import GOLDEN_FIELDS, GoldenRecord, GoldenTable
from canalis.identity.tables import (
    identity_customer_ids,
    identity_id_events,
    identity_links,
    identity_models,
    identity_overrides,
    identity_proposed_merges,
    identity_records,
    identity_runs,
    identity_state,
)
from canalis.sdk.jsoncodec import dumps
from canalis.store.tables import customer_records, customers, source_identities
from canalis.store.types import JSONText

PENDING, ACCEPTED_PROPOSAL, REJECTED_PROPOSAL = "pending", "accepted", "rejected"
_PERSON_COLUMNS = (
    "given_name", "family_name", "email", "phone", "birth_date", "street", "postcode", "city", "region", "country",
    "loyalty_id",
)  # fmt: skip
_RECORD_COLUMNS = [
    customer_records.c[name]
    for name in ("record_key", "source", "object", "source_id", *_PERSON_COLUMNS, "external_ids", "source_updated_at",
                 "content_hash")
]  # fmt: skip


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)


def record_from_row(row: Any) -> IdentityRecord:
    """An IdentityRecord from a customer_records row."""
    data = row._mapping
    return IdentityRecord(
        source=data["source"],
        source_id=data["source_id"],
        object=data["object"] or None,
        **{name: data[name] for name in _PERSON_COLUMNS},
        external_ids={str(k): str(v) for k, v in (data["external_ids"] or {}).items() if v not in (None, "")},
        updated_at=data["source_updated_at"],
    )


def _records(rows: Iterable[tuple]) -> Iterable[tuple[IdentityRecord, str]]:
    """(record, content_hash) from tuples in _RECORD_COLUMNS order."""
    for _key, source, obj, source_id, *person, external, updated, content in rows:
        record = IdentityRecord(source, source_id, obj or None, *person, updated_at=updated)
        if external:
            record.external_ids = {str(k): str(v) for k, v in external.items() if v not in (None, "")}
        yield record, content


# --- reading -------------------------------------------------------------------------------------


def load_model(connection: Connection) -> MatchModel | None:
    """The latest stored match model."""
    row = connection.execute(
        select(identity_models.c.parameters).order_by(identity_models.c.model_id.desc()).limit(1)
    ).first()
    return MatchModel.from_dict(row[0]) if row else None


def load_decisions(connection: Connection) -> list[Override]:
    """Every steward decision, oldest first."""
    rows = connection.execute(select(identity_overrides).order_by(identity_overrides.c.override_id))
    return [Override(r.kind, r.record_a, r.record_b, r.who, r.why, r.at, bool(r.active)) for r in rows]


def _read_records(connection: Connection, query: sa.Select) -> tuple[list[IdentityRecord], dict[str, str]]:
    records: list[IdentityRecord] = []
    hashes: dict[str, str] = {}
    # Streamed (a server-side cursor where the database has one), so the rows are never all held twice.
    for record, content in _records(connection.execute(query.execution_options(yield_per=20_000))):
        records.append(record)
        hashes[record.key] = content
    return records, hashes


def _record_loader(connection: Connection):
    """Reads records back by key for a restored engine."""

    def load(keys: list[str]) -> dict[str, IdentityRecord]:
        if len(keys) <= 500:
            wanted: Sequence[str] | sa.Select = keys
        else:  # one query through the temporary key table rather than one per few hundred keys
            wanted = key_holder(connection, keys)
        query = select(*_RECORD_COLUMNS).where(customer_records.c.record_key.in_(wanted))
        return {record.key: record for record, _ in _records(connection.execute(query))}

    return load


def _load_state(connection: Connection) -> bytes | None:
    table = identity_state
    rows = connection.execute(select(table.c.name, table.c.piece, table.c.data)).all()
    if not rows:
        return None
    return join({(name, piece): data for name, piece, data in rows})


def _save_state(connection: Connection, engine: IdentityEngine, run_id: int) -> int:
    """Save the engine's state, rewriting only the pieces whose digest changed; returns how many were written."""
    table = identity_state
    stored = {(name, piece): digest for name, piece, digest in connection.execute(
        select(table.c.name, table.c.piece, table.c.digest))}  # fmt: skip
    fresh = pieces(engine.to_state())
    changed = [p for p in fresh if stored.pop((p.name, p.index), None) != p.digest]
    gone: dict[str, list[int]] = {}
    for name, index in [*stored, *((p.name, p.index) for p in changed)]:
        gone.setdefault(name, []).append(index)
    for name, indexes in gone.items():
        for start in range(0, len(indexes), 500):
            chosen = indexes[start : start + 500]
            connection.execute(sa.delete(table).where(table.c.name == name, table.c.piece.in_(chosen)))
    batch: list[dict] = []
    size = 0
    for piece in changed:  # statements of at most about PIECE_BYTES (MySQL's max_allowed_packet)
        if batch and size + len(piece.data) > PIECE_BYTES:
            connection.execute(sa.insert(table), batch)
            batch, size = [], 0
        batch.append({"name": piece.name, "piece": piece.index, "digest": piece.digest, "run_id": run_id,
                      "data": bytes(piece.data)})  # fmt: skip
        size += len(piece.data)
    if batch:
        connection.execute(sa.insert(table), batch)
    return len(changed)


def _primed_engine(connection: Connection, config: IdentityConfig, decisions: list[Override]) -> IdentityEngine:
    """An engine that knows the stored assignments and ids (for a first full run after an older version)."""
    engine = IdentityEngine(config, overrides=decisions)
    stored = connection.execute(select(source_identities.c.record_key, source_identities.c.customer_id)).all()
    engine.row_of = {key: row for row, (key, _) in enumerate(stored)}
    engine.customer = [cid for _, cid in stored]
    engine.alive = [True] * len(stored)
    for cid, status, merged_into, created in connection.execute(
        select(
            identity_customer_ids.c.customer_id, identity_customer_ids.c.status,
            identity_customer_ids.c.merged_into, identity_customer_ids.c.created_at,
        )
    ):  # fmt: skip
        engine.id_age[cid] = (created.timestamp(), cid)
        if status == "merged" and merged_into:
            engine.aliases[cid] = merged_into
    return engine


# --- writing -------------------------------------------------------------------------------------

_LINK_COLUMNS = ("record_a", "record_b", "rule", "confidence", "status", "reason", "evidence", "updated_at")


def _scored_evidence(batch: BatchResult, edges: np.ndarray) -> Iterator[dict]:
    """Compact evidence of scored links (edges given): probability, match weight and each field's level (the
    weights and similarities behind them are in `canalis identity explain`)."""
    pairs = batch.pairs
    index = batch.edge_pair[edges]
    levels = pairs.comparison.levels[index].tolist()
    probability = np.round(pairs.scores.probability[index], 6).tolist()
    weight = np.round(pairs.scores.total[index], 3).tolist()
    swapped = pairs.comparison.swapped[index].tolist()
    names = [(name, FIELDS[name]) for name in FIELD_NAMES]
    for row, p, w, swap in zip(levels, probability, weight, swapped, strict=True):
        found = {"rule": "probabilistic", "probability": p, "match_weight": w,
                 "levels": {name: level[j] for (name, level), j in zip(names, row, strict=True) if j}}  # fmt: skip
        if swap:
            found["names_swapped"] = True
        yield found


# Rules in the order of their names: rows of one pair are written in that order.
_RULE_NAME_RANK = np.argsort(np.argsort(np.asarray(RULES, dtype=object)))


def _first_links(batch: BatchResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first edge of each (pair, rule), ordered by smaller key, larger key and rule name: (edges, smaller
    row, larger row)."""
    edges, rank = batch.edges, batch.key_rank
    if not len(edges):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    ra, rb = rank[edges.a], rank[edges.b]
    swap = ra > rb
    lo, hi = np.where(swap, rb, ra), np.where(swap, ra, rb)
    rule = _RULE_NAME_RANK[edges.rule.astype(np.int64)]
    order = np.lexsort((np.arange(len(edges)), rule, hi, lo))
    lo, hi, rule = lo[order], hi[order], rule[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1]) | (rule[1:] != rule[:-1])]
    chosen = order[first]
    a, b = edges.a[chosen], edges.b[chosen]
    flip = swap[chosen]
    return chosen, np.where(flip, b, a), np.where(flip, a, b)


def _link_rows(batch: BatchResult, now: datetime) -> list[tuple]:
    """One row per (pair, rule): the first link of the batch, in (pair, rule name) order. Only scored links carry
    evidence; a key or steward link is its rule (the key group behind it, with the shared value, is rebuilt on
    demand by `explain`), so key values are not copied into the links and a link row changes only when its
    decision does."""
    chosen, first, second = _first_links(batch)
    if not len(chosen):
        return []
    keys = batch.frame.array("key")
    scored = batch.edge_pair[chosen] >= 0
    # Evidence is encoded at once, as it is stored: a million links' documents are not all held as dicts.
    evidence: list[JSONText | None] = [None] * len(chosen)
    for i, found in zip(np.flatnonzero(scored).tolist(), _scored_evidence(batch, chosen[scored]), strict=True):
        evidence[i] = JSONText(dumps(found))
    edge_list = chosen.tolist()
    reasons = batch.clustering.reasons
    status = batch.clustering.status[chosen].tolist()
    rules = batch.edges.rule[chosen].tolist()
    scores = np.round(batch.edges.score[chosen], 6).tolist()
    return [
        (ka, kb, RULES[rule], score, STATUS_NAMES[state], reasons.get(e), found, now)
        for ka, kb, rule, score, state, e, found in zip(
            keys[first].tolist(), keys[second].tolist(), rules, scores, status, edge_list, evidence, strict=True
        )
    ]


def _changed_links(connection: Connection, rows: list[tuple], touched: list[str]) -> list[tuple]:
    """The link rows that are new or differ from the stored ones (whose stale rows are deleted)."""
    stored = {
        (a, b, rule): (link_id, (confidence, status, reason, evidence))
        for link_id, a, b, rule, confidence, status, reason, evidence in select_where_in(
            connection, identity_links, ("link_id", *_LINK_COLUMNS[:7]), ("record_a", "record_b"), touched
        )
    }  # fmt: skip
    stale: list[int] = []
    out: list[tuple] = []
    for row in rows:
        old = stored.pop(row[:3], None)
        if old is not None and old[1] == row[3:7]:
            continue
        if old is not None:
            stale.append(old[0])
        out.append(row)
    stale.extend(link_id for link_id, _ in stored.values())
    delete_ids(connection, identity_links.c.link_id, stale)
    return out


_IDENTITY_COLUMNS = (
    "record_key", "source", "object", "source_id", "customer_id", "match_rule", "confidence", "updated_at",
)  # fmt: skip


def _changed_identities(connection: Connection, rows: list[tuple], touched: list[str]) -> list[tuple]:
    """The source_identities rows that are new or differ from the stored ones (whose stale rows are deleted)."""
    stored = {
        row[0]: row
        for row in select_where_in(connection, source_identities, _IDENTITY_COLUMNS[:7], ("record_key",), touched)
    }
    out = [row for row in rows if stored.pop(row[0], None) != row[:7]]
    delete_where_in(connection, source_identities, ("record_key",), [row[0] for row in out] + list(stored))
    return out


def _identity_rows(batch: BatchResult, outcome: Outcome, now: datetime) -> list[tuple]:
    """source_identities rows of the resolved records, in record key order."""
    frame, ids = batch.frame, outcome.ids
    rows = outcome.rows
    order = np.argsort(batch.key_rank[rows], kind="stable")
    records = frame.record
    keys = frame.key
    out = []
    for r, c, rule, conf in zip(
        rows[order].tolist(), outcome.cluster_index[order].tolist(), outcome.rule_index[order].tolist(),
        outcome.confidence[order].tolist(), strict=True,
    ):  # fmt: skip
        record = records[r]
        out.append((keys[r], record.source, record.object or "", record.source_id, ids[c],
                    RULES[rule] if rule >= 0 else "singleton", conf, now))  # fmt: skip
    return out


def _golden_columns(golden: GoldenTable | list[GoldenRecord], created: dict[str, datetime], now: datetime
                    ) -> Iterator[dict[str, list]]:  # fmt: skip
    """customers columns of the golden records, by customer id, a chunk of customers at a time."""
    if isinstance(golden, GoldenTable):
        chunks: Iterable[dict[str, list]] = golden.columns(sorted(range(len(golden.ids)), key=golden.ids.__getitem__))
    else:
        records = sorted(golden, key=lambda record: record.customer_id)
        chunks = [
            {"customer_id": [r.customer_id for r in records],
             **{name: [r.values.get(name) for r in records] for name in GOLDEN_FIELDS},
             "lineage": [r.lineage for r in records], "record_count": [r.record_count for r in records],
             "sources": [r.sources for r in records], "flags": [r.flags for r in records]}
        ] if records else []  # fmt: skip
    for columns in chunks:
        ids = columns["customer_id"]
        columns["flags"] = [flags or None for flags in columns["flags"]]
        columns["created_at"] = [created.get(customer_id, now) for customer_id in ids]
        columns["updated_at"] = [now] * len(ids)
        yield columns


def _write(
    connection: Connection,
    resolution: Resolution,
    engine: IdentityEngine,
    hashes: dict[str, str],
    previous: dict[str, str],
    run_id: int,
    now: datetime,
    full: bool,
) -> None:
    """Replace what the run resolved: links, assignments, golden records, ids, events, hashes, proposals."""
    batch, outcome = resolution.batch, resolution.outcome
    if batch is None or outcome is None:
        return
    resolved = list(batch.frame.key)
    removed = list(resolution.removed_records)
    touched = sorted(set(resolved) | set(removed))
    if full:
        for table in (identity_links, source_identities, identity_records):
            connection.execute(sa.delete(table))
    else:
        delete_where_in(connection, identity_records, ("record_key",), list(hashes) + removed)
    # Rows go in in key order: index pages then fill one after the other instead of at random. Links, then
    # assignments, are made and written one table at a time (a row per link, then a row per record).
    # Incremental runs write only the rows that changed: most links and assignments of the touched records stay.
    links = _link_rows(batch, now)
    if not full:
        links = _changed_links(connection, links, touched)
    insert_rows(connection, identity_links, _LINK_COLUMNS, links)
    del links
    identities = _identity_rows(batch, outcome, now)
    if not full:
        identities = _changed_identities(connection, identities, touched)
    insert_rows(connection, source_identities, _IDENTITY_COLUMNS, identities)
    del identities
    ids = outcome.ids
    old_ids = set(previous.values())
    created = dict(
        connection.execute(select(identity_customer_ids.c.customer_id, identity_customer_ids.c.created_at)).all()
    ) if full else _created(connection, sorted(old_ids | set(ids)))  # fmt: skip
    if full:
        connection.execute(sa.delete(customers))
    else:
        delete_where_in(connection, customers, ("customer_id",), old_ids | set(ids))
    for columns in _golden_columns(resolution.golden, created, now):
        insert_columns(connection, customers, columns)
    insert_rows(
        connection,
        identity_customer_ids,
        ("customer_id", "status", "merged_into", "created_at", "updated_at"),
        ((cid, "active", None, now, now) for cid in ids if cid not in created),
    )
    for event in outcome.events:
        if event.kind in ("merged", "retired"):
            ids_table = identity_customer_ids
            connection.execute(
                sa.update(ids_table)
                .where(ids_table.c.customer_id == event.customer_id)
                .values(status=event.kind, merged_into=event.other_id, updated_at=now)
            )
            if event.kind == "merged":
                connection.execute(
                    sa.update(ids_table)
                    .where(ids_table.c.merged_into == event.customer_id)
                    .values(merged_into=event.other_id, updated_at=now)
                )
    insert_rows(
        connection,
        identity_id_events,
        ("run_id", "kind", "customer_id", "other_id", "at"),
        ((run_id, e.kind, e.customer_id, e.other_id, now) for e in outcome.events),
    )
    insert_rows(
        connection,
        identity_records,
        ("record_key", "content_hash", "resolved_at"),
        sorted((key, content, now) for key, content in hashes.items() if key in engine.row_of),
    )
    _write_proposals(connection, batch, outcome, now, full)


def _write_proposals(connection: Connection, batch: BatchResult, outcome: Outcome, now: datetime, full: bool) -> None:
    """Replace the pending proposed merges of the resolved records with the batch's; decided pairs stay as they are."""
    table = identity_proposed_merges
    keys = batch.frame.key
    if full:
        connection.execute(sa.delete(table).where(table.c.status == PENDING))
    else:
        pending = table.c.status == PENDING
        wanted: Sequence[str] | sa.Select = keys if len(keys) <= 500 else key_holder(connection, keys)
        connection.execute(
            sa.delete(table).where(pending, sa.or_(table.c.record_a.in_(wanted), table.c.record_b.in_(wanted)))
        )
    proposals = batch.proposals
    if proposals is None or not len(proposals):
        return
    cluster = np.full(len(keys), -1, dtype=np.int64)
    cluster[outcome.rows] = outcome.cluster_index
    ids = outcome.ids
    rows: dict[tuple[str, str], tuple] = {}
    for i in range(len(proposals)):
        ra, rb = int(proposals.a[i]), int(proposals.b[i])
        if keys[ra] > keys[rb]:
            ra, rb = rb, ra
        ca, cb = int(cluster[ra]), int(cluster[rb])
        rows.setdefault(
            (keys[ra], keys[rb]),
            (keys[ra], keys[rb], str(proposals.reason[i]), round(float(proposals.probability[i]), 6),
             ids[ca] if ca >= 0 else None, ids[cb] if cb >= 0 else None, PENDING,
             batch.pairs.evidence(int(proposals.pair[i])), now),
        )  # fmt: skip
    decided: set[tuple[str, str]] = set()
    firsts = sorted({a for a, _ in rows})
    for start in range(0, len(firsts), 500):
        query = select(table.c.record_a, table.c.record_b).where(table.c.record_a.in_(firsts[start : start + 500]))
        decided.update((a, b) for a, b in connection.execute(query))
    insert_rows(
        connection,
        table,
        ("record_a", "record_b", "reason", "probability", "customer_a", "customer_b", "status", "evidence",
         "proposed_at"),
        (row for pair, row in rows.items() if pair not in decided),
    )  # fmt: skip


def _created(connection: Connection, ids: Sequence[str]) -> dict[str, datetime]:
    table = identity_customer_ids
    return dict(_where_in(connection, table.c.customer_id, table.c.created_at, sorted(ids)))


# --- runs ----------------------------------------------------------------------------------------


def _finish_report(connection: Connection, report: ResolutionReport, read: int) -> ResolutionReport:
    report.records_read = read
    report.customers_total = int(connection.execute(select(func.count()).select_from(customers)).scalar_one())
    report.largest_cluster = int(connection.execute(select(func.max(customers.c.record_count))).scalar_one() or 0)
    singles = connection.execute(
        select(func.count()).select_from(customers).where(customers.c.record_count == 1)
    ).scalar_one()
    records = connection.execute(select(func.count()).select_from(source_identities)).scalar_one()
    report.singleton_share = round(singles / records, 6) if records else 0.0
    return report


def _start_run(connection: Connection, mode: str, now: datetime) -> int:
    result = connection.execute(sa.insert(identity_runs).values(mode=mode, started_at=now))
    return int(result.inserted_primary_key[0])


def _finish_run(connection: Connection, run_id: int, report: ResolutionReport) -> None:
    connection.execute(
        sa.update(identity_runs)
        .where(identity_runs.c.run_id == run_id)
        .values(finished_at=datetime.now(UTC), report=report.to_dict())
    )


def _full(connection: Connection, config: IdentityConfig, now: datetime, run_id: int) -> ResolutionReport:
    clock = time.perf_counter()
    records, hashes = _read_records(connection, select(*_RECORD_COLUMNS))
    read_seconds = time.perf_counter() - clock
    decisions = load_decisions(connection)
    state = _load_state(connection)
    if state is not None:
        engine = IdentityEngine.from_state(state, config, overrides=decisions)
    else:
        engine = _primed_engine(connection, config, decisions)
    previous = {key: engine.customer[row] for key, row in engine.row_of.items() if engine.customer[row]}
    resolution = engine.resolve(records, now=now, retrain=True)
    clock = time.perf_counter()
    connection.execute(
        sa.insert(identity_models).values(trained_at=now, records=len(records), parameters=engine.model.to_dict())
    )
    stale = set(previous.values()) - set(engine.members)
    _write(connection, resolution, engine, hashes, previous, run_id, now, full=True)
    delete_where_in(connection, customers, ("customer_id",), stale)
    write_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    _save_state(connection, engine, run_id)
    report = resolution.report
    report.timings.update(read=round(read_seconds, 4), write=round(write_seconds, 4),
                          state=round(time.perf_counter() - clock, 4))  # fmt: skip
    return _finish_report(connection, report, len(records))


_CHANGED = (
    select(*_RECORD_COLUMNS)
    .select_from(
        customer_records.outerjoin(identity_records, identity_records.c.record_key == customer_records.c.record_key)
    )
    .where(
        sa.or_(
            identity_records.c.record_key.is_(None),
            identity_records.c.content_hash != customer_records.c.content_hash,
        )
    )
)
_REMOVED = (
    select(identity_records.c.record_key)
    .select_from(
        identity_records.outerjoin(customer_records, customer_records.c.record_key == identity_records.c.record_key)
    )
    .where(customer_records.c.record_key.is_(None))
)


def _incremental(
    connection: Connection,
    config: IdentityConfig,
    now: datetime,
    run_id: int,
    mode: str,
    decisions: Sequence[Override] = (),
) -> ResolutionReport | None:
    """Resolve the changed and removed records (and the records of new decisions) from the saved state; None when
    there is no saved state."""
    state = _load_state(connection)
    if state is None:
        return None
    clock = time.perf_counter()
    changed, hashes = _read_records(connection, _CHANGED)
    removed = [key for (key,) in connection.execute(_REMOVED)]
    read_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    known = [d for d in load_decisions(connection) if d not in decisions]
    engine = IdentityEngine.from_state(state, config, overrides=known)
    engine.record_loader = _record_loader(connection)
    restore_seconds = time.perf_counter() - clock
    if not changed and not removed and not decisions:
        total = connection.execute(select(func.count()).select_from(customers)).scalar_one()
        return ResolutionReport(mode=mode, customers_total=int(total))
    resolutions: list[Resolution] = []
    if changed or removed:
        resolutions.append(engine.update(changed, removed, now=now))
    if decisions:
        resolutions.append(engine.apply_decisions(list(decisions), now=now))
    clock = time.perf_counter()
    for resolution in resolutions:
        if resolution.batch is None:
            continue
        previous = {k: c for k, c in _previous(connection, resolution).items() if c}
        _write(connection, resolution, engine, hashes, previous, run_id, now, full=False)
        hashes = {}
    write_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    _save_state(connection, engine, run_id)
    report = resolutions[-1].report if resolutions else ResolutionReport(mode=mode)
    report.mode = mode
    if len(resolutions) > 1:
        report.records_resolved = sum(r.report.records_resolved for r in resolutions)
    report.timings.update(read=round(read_seconds, 4), restore=round(restore_seconds, 4),
                          write=round(write_seconds, 4), state=round(time.perf_counter() - clock, 4))  # fmt: skip
    return _finish_report(connection, report, len(changed))


def _previous(connection: Connection, resolution: Resolution) -> dict[str, str]:
    """Customer ids the resolved and removed records had before this run (as stored)."""
    keys = sorted(set(resolution.touched_records) | set(resolution.removed_records))
    return dict(_where_in(connection, source_identities.c.record_key, source_identities.c.customer_id, keys))


def _where_in(connection: Connection, key: sa.Column, value: sa.Column, keys: Sequence[str]) -> list[tuple]:
    """(key, value) of the rows whose key is one of `keys`: one query (through the temporary key table for many)."""
    if not keys:
        return []
    wanted: Sequence[str] | sa.Select = keys if len(keys) <= 500 else key_holder(connection, keys)
    return [tuple(row) for row in connection.execute(select(key, value).where(key.in_(wanted)))]


def resolve_customers(
    engine: Engine, *, config: IdentityConfig, full: bool = False, now: datetime | None = None
) -> ResolutionReport:
    """Resolve customer_records into customers: incremental (new or changed records only) unless `full`.

    The first run, or any run without a saved state, is full; a full run learns a new model. When a review
    policy is configured, pending proposed merges are decided by it afterwards.
    """
    started = time.perf_counter()
    moment = _now(now)
    with collector_paused(), engine.begin() as connection:
        has_state = connection.execute(select(func.count()).select_from(identity_state)).scalar_one() > 0
        mode = "incremental" if has_state and not full else "full"
        run_id = _start_run(connection, mode, moment)
        report = _incremental(connection, config, moment, run_id, mode) if mode == "incremental" else None
        if report is None:
            report = _full(connection, config, moment, run_id)
        report.duration_seconds = round(time.perf_counter() - started, 4)
        _finish_run(connection, run_id, report)
    if config.auto_accept_probability is not None or config.auto_reject_below is not None:
        from canalis.identity.review import apply_policy

        report.policy_decisions = apply_policy(engine, config, now=moment)
    return report


def apply_override(
    engine: Engine,
    kind: str,
    record_a: str,
    record_b: str,
    who: str,
    why: str,
    *,
    config: IdentityConfig | None = None,
    now: datetime | None = None,
) -> ResolutionReport:
    """Record a steward decision (force_merge or never_merge) and resolve the records it concerns."""
    decision = Override(kind, record_a, record_b, who, why, _now(now))
    return _apply_decisions(engine, [decision], config or IdentityConfig(), now)


def unmerge(
    engine: Engine,
    customer_id: str,
    record_keys: Sequence[str],
    who: str,
    why: str,
    *,
    config: IdentityConfig | None = None,
    now: datetime | None = None,
) -> ResolutionReport:
    """Split records out of a customer: never-merge decisions between them and the customer's other records.

    Force-merge decisions joining the two sides are withdrawn. The decisions stay as the audit trail.
    """
    moment = _now(now)
    with engine.connect() as connection:
        members = {
            k
            for (k,) in connection.execute(
                select(source_identities.c.record_key).where(source_identities.c.customer_id == customer_id)
            )
        }
        decisions_before = load_decisions(connection)
    split = set(record_keys)
    if not members:
        raise KeyError(f"unknown customer {customer_id}")
    if not split or not split < members:
        raise ValueError("record_keys must be a non-empty proper subset of the customer's records")
    reason = f"unmerge {customer_id}: {why}"
    decisions = [
        Override(NEVER_MERGE, a, b, who, reason, moment) for a in sorted(split) for b in sorted(members - split)
    ]
    for a, b in sorted(Overrides.from_decisions(decisions_before).force):
        if a in members and b in members and (a in split) != (b in split):
            decisions.append(Override(FORCE_MERGE, a, b, who, reason, moment, active=False))
    return _apply_decisions(engine, decisions, config or IdentityConfig(), now)


def _apply_decisions(
    engine: Engine, decisions: Sequence[Override], config: IdentityConfig, now: datetime | None
) -> ResolutionReport:
    for decision in decisions:
        if decision.kind not in KINDS:
            raise ValueError(f"unknown override kind {decision.kind!r}")
    started = time.perf_counter()
    moment = _now(now)
    with collector_paused(), engine.begin() as connection:
        insert_rows(
            connection,
            identity_overrides,
            ("kind", "record_a", "record_b", "active", "who", "why", "at"),
            ((d.kind, d.record_a, d.record_b, d.active, d.who, d.why, d.at) for d in decisions),
        )
        run_id = _start_run(connection, "override", moment)
        report = _incremental(connection, config, moment, run_id, "override", decisions)
        if report is None:
            report = _full(connection, config, moment, run_id)
        report.duration_seconds = round(time.perf_counter() - started, 4)
        _finish_run(connection, run_id, report)
    return report
