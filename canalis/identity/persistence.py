"""Identity resolution against the store: read customer_records, write source_identities, customers and state.

A full run resolves every record and learns a new model. An incremental run reads only records whose
content_hash changed since they were last resolved, finds through the stored key, block and link indexes
the part of the link graph they touch, and resolves that part again with the stored model.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, func, select, tuple_

from canalis.identity.blocking import block_codes
from canalis.identity.clusters import ACCEPTED, REFUSED, RULES, STATUS_NAMES
from canalis.identity.compare import compare, score_columns
from canalis.identity.config import IdentityConfig
from canalis.identity.engine import bulk_work
from canalis.identity.features import Frame
from canalis.identity.keys import row_values
from canalis.identity.outcome import Outcome, conclude
from canalis.identity.overrides import FORCE_MERGE, KINDS, NEVER_MERGE, Override, Overrides
from canalis.identity.records import IdentityRecord
from canalis.identity.report import ResolutionReport
from canalis.identity.resolver import BatchResult, proposal_reasons, resolve_frame
from canalis.identity.scoring import MatchModel, score
from canalis.identity.survivorship import GOLDEN_FIELDS
from canalis.identity.tables import (
    identity_customer_ids,
    identity_id_events,
    identity_keys,
    identity_links,
    identity_models,
    identity_overrides,
    identity_proposed_merges,
    identity_records,
    identity_runs,
)
from canalis.store.tables import customer_records, customers, source_identities

_CHUNK = 500
PENDING, ACCEPTED_PROPOSAL, REJECTED_PROPOSAL = "pending", "accepted", "rejected"
_PERSON_COLUMNS = (
    "given_name",
    "family_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "postcode",
    "city",
    "region",
    "country",
    "loyalty_id",
)
_RECORD_COLUMNS = [
    customer_records.c[name]
    for name in (
        "record_key",
        "source",
        "object",
        "source_id",
        *_PERSON_COLUMNS,
        "external_ids",
        "source_updated_at",
        "content_hash",
    )
]


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def _record_key(row: Any) -> str:
    return row._mapping["record_key"]


# --- reading state -------------------------------------------------------------------------------


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


def _load_records(connection: Connection, keys: Sequence[str]) -> list[tuple[IdentityRecord, str, str]]:
    out = []
    for chunk in _chunks(sorted(keys)):
        for row in connection.execute(select(*_RECORD_COLUMNS).where(customer_records.c.record_key.in_(chunk))):
            out.append((record_from_row(row), row.record_key, row.content_hash))
    return out


def _key_rows(frame: Frame, config: IdentityConfig) -> dict[str, set[tuple[str, str]]]:
    """Deterministic and block keys of every row of a frame, by record key."""
    out: dict[str, set[tuple[str, str]]] = {key: set() for key in frame.key}
    for kind in config.deterministic_keys:
        for row, key in enumerate(frame.key):
            out[key].update((kind, value) for value in row_values(frame, kind, row))
    for kind, codes in block_codes(frame).items():
        for key, code in zip(frame.key, codes.tolist(), strict=True):
            if code:
                out[key].add((kind, str(code)))
    return out


def _counts(connection: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    items = sorted(set(pairs))
    for chunk in _chunks(items, 300):
        query = (
            select(identity_keys.c.kind, identity_keys.c.value, func.count())
            .where(tuple_(identity_keys.c.kind, identity_keys.c.value).in_(chunk))
            .group_by(identity_keys.c.kind, identity_keys.c.value)
        )
        for kind, value, count in connection.execute(query):
            out[(kind, value)] = int(count)
    return out


def _members(connection: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for chunk in _chunks(sorted(set(pairs)), 300):
        query = select(identity_keys.c.kind, identity_keys.c.value, identity_keys.c.record_key).where(
            tuple_(identity_keys.c.kind, identity_keys.c.value).in_(chunk)
        )
        for kind, value, key in connection.execute(query):
            out.setdefault((kind, value), []).append(key)
    return out


def _stored_keys(connection: Connection, keys: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for chunk in _chunks(sorted(keys)):
        query = select(identity_keys.c.record_key, identity_keys.c.kind, identity_keys.c.value).where(
            identity_keys.c.record_key.in_(chunk)
        )
        for key, kind, value in connection.execute(query):
            out.setdefault(key, set()).add((kind, value))
    return out


def _previous(connection: Connection, keys: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        query = select(source_identities.c.record_key, source_identities.c.customer_id).where(
            source_identities.c.record_key.in_(chunk)
        )
        out.update({k: c for k, c in connection.execute(query)})
    return out


def _ages(connection: Connection, ids: Iterable[str]) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(identity_customer_ids.c.customer_id, identity_customer_ids.c.created_at).where(
            identity_customer_ids.c.customer_id.in_(chunk)
        )
        out.update({cid: (created.timestamp(), cid) for cid, created in connection.execute(query)})
    return out


class _IssuedIds:
    """Ids already issued, looked up in identity_customer_ids."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __contains__(self, customer_id: object) -> bool:
        query = select(identity_customer_ids.c.customer_id).where(identity_customer_ids.c.customer_id == customer_id)
        return self.connection.execute(query).first() is not None


# --- finding what a change touches ---------------------------------------------------------------


def _closure(connection: Connection, seeds: set[str], overrides: Overrides, config: IdentityConfig) -> set[str]:
    """Every record connected to the seeds by stored links, shared deterministic keys, clusters or stewards."""
    partners = overrides.partners()
    det_kinds = list(config.deterministic_keys)
    seen = set(seeds)
    frontier = sorted(seeds)
    while frontier:
        found: set[str] = set()
        for chunk in _chunks(frontier):
            links = select(identity_links.c.record_a, identity_links.c.record_b).where(
                sa.or_(identity_links.c.record_a.in_(chunk), identity_links.c.record_b.in_(chunk)),
                sa.or_(identity_links.c.rule == "probabilistic", identity_links.c.status == "refused"),
            )
            for a, b in connection.execute(links):
                found.update((a, b))
            ids = select(source_identities.c.customer_id).where(source_identities.c.record_key.in_(chunk))
            members = select(source_identities.c.record_key).where(source_identities.c.customer_id.in_(ids))
            found.update(k for (k,) in connection.execute(members))
            values = {
                (kind, value)
                for kind, value in connection.execute(
                    select(identity_keys.c.kind, identity_keys.c.value).where(
                        identity_keys.c.record_key.in_(chunk), identity_keys.c.kind.in_(det_kinds)
                    )
                )
            }
            counts = _counts(connection, values)
            usable = [pair for pair in values if 1 < counts.get(pair, 0) <= config.max_records_per_key]
            for keys in _members(connection, usable).values():
                found.update(keys)
            for key in chunk:
                found.update(partners.get(key, ()))
        frontier = sorted(found - seen)
        seen.update(frontier)
    return seen


def _seeds(
    connection: Connection,
    changed: Frame,
    old_keys: dict[str, set[tuple[str, str]]],
    new_keys: dict[str, set[tuple[str, str]]],
    removed: Sequence[str],
    model: MatchModel,
    config: IdentityConfig,
) -> set[str]:
    """Changed records, their key-mates, members of blocks that crossed the size limit, and scored mates."""
    seeds = set(changed.key) | set(removed)
    delta: dict[tuple[str, str], int] = {}
    for key in set(old_keys) | set(new_keys):
        for pair in new_keys.get(key, set()) - old_keys.get(key, set()):
            delta[pair] = delta.get(pair, 0) + 1
        for pair in old_keys.get(key, set()) - new_keys.get(key, set()):
            delta[pair] = delta.get(pair, 0) - 1
    touched = {pair for keys in (*old_keys.values(), *new_keys.values()) for pair in keys}
    counts = _counts(connection, touched)
    det = set(config.deterministic_keys)
    limits = config.block_limits()
    wanted: list[tuple[str, str]] = []
    mates_of: list[tuple[str, str]] = []
    for pair in touched:
        now_count = counts.get(pair, 0)
        was = now_count - delta.get(pair, 0)
        if pair[0] in det:
            if min(now_count, was) <= config.max_records_per_key:
                wanted.append(pair)
        elif (was <= limits[pair[0]]) != (now_count <= limits[pair[0]]):
            wanted.append(pair)
        elif now_count <= limits[pair[0]]:
            mates_of.append(pair)
    members = _members(connection, wanted + mates_of)
    for pair in wanted:
        seeds.update(members.get(pair, ()))
    candidates: dict[str, set[str]] = {}
    for pair in mates_of:
        holders = members.get(pair, [])
        for key in holders:
            if pair in new_keys.get(key, set()):
                candidates.setdefault(key, set()).update(holders)
    others = sorted({k for found in candidates.values() for k in found} - set(changed.key))
    if not others:
        return seeds
    frame = Frame.from_records((r for r, _, _ in _load_records(connection, others)), config, model.region)
    for key, row in zip(changed.key, range(len(changed)), strict=True):
        frame.append(changed.record[row], config, model.region)
        assert frame.key[-1] == key
    local = {key: row for row, key in enumerate(frame.key)}
    pairs = sorted(
        {
            (local[a], local[b]) if a < b else (local[b], local[a])
            for a, found in candidates.items()
            for b in found
            if a != b and b in local
        }
    )
    if not pairs:
        return seeds
    a = np.asarray([p[0] for p in pairs], dtype=np.int64)
    b = np.asarray([p[1] for p in pairs], dtype=np.int64)
    columns = score_columns(frame)
    probability = score(compare(columns, a, b, config.workers), columns, a, model).probability
    for i in np.flatnonzero(probability >= config.match_probability).tolist():
        seeds.update((frame.key[int(a[i])], frame.key[int(b[i])]))
    return seeds


# --- writing -------------------------------------------------------------------------------------


def _delete_in(connection: Connection, column: sa.Column, keys: Sequence[str]) -> None:
    for chunk in _chunks(sorted(set(keys))):
        connection.execute(sa.delete(column.table).where(column.in_(chunk)))


def _insert(connection: Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        connection.execute(sa.insert(table), rows[start : start + 5000])


def _write_keys(connection: Connection, keys: dict[str, set[tuple[str, str]]]) -> None:
    _delete_in(connection, identity_keys.c.record_key, list(keys))
    rows = [{"record_key": k, "kind": kind, "value": value} for k, pairs in keys.items() for kind, value in pairs]
    _insert(connection, identity_keys, rows)


def _link_rows(batch: BatchResult, now: datetime) -> list[dict]:
    keys = batch.frame.key
    status = batch.clustering.status
    best: dict[tuple[str, str, str], dict] = {}
    for e in range(len(batch.edges)):
        a, b = sorted((keys[int(batch.edges.a[e])], keys[int(batch.edges.b[e])]))
        rule = RULES[int(batch.edges.rule[e])]
        row = {
            "record_a": a,
            "record_b": b,
            "rule": rule,
            "confidence": round(float(batch.edges.score[e]), 6),
            "status": STATUS_NAMES[int(status[e])],
            "reason": batch.clustering.reasons.get(e),
            "evidence": batch.edge_evidence(e),
            "updated_at": now,
        }
        best.setdefault((a, b, rule), row)
    return list(best.values())


def _golden_row(golden: Any, created: datetime, now: datetime) -> dict:
    values = golden.values
    return {
        "customer_id": golden.customer_id,
        **{name: values.get(name) for name in GOLDEN_FIELDS},
        "lineage": golden.lineage,
        "record_count": golden.record_count,
        "sources": golden.sources,
        "flags": golden.flags or None,
        "created_at": created,
        "updated_at": now,
    }


def _write_outcome(
    connection: Connection,
    batch: BatchResult,
    outcome: Outcome,
    hashes: dict[str, str],
    previous: dict[str, str],
    removed: Sequence[str],
    run_id: int,
    now: datetime,
) -> None:
    """Replace the links, assignments and golden records of the resolved records with the batch's."""
    frame = batch.frame
    resolved = list(frame.key)
    gone = sorted(set(previous) - set(resolved)) + list(removed)
    everyone = sorted(set(resolved) | set(gone))
    for chunk in _chunks(everyone):
        connection.execute(
            sa.delete(identity_links).where(
                sa.or_(identity_links.c.record_a.in_(chunk), identity_links.c.record_b.in_(chunk))
            )
        )
    _insert(connection, identity_links, _link_rows(batch, now))
    _delete_in(connection, source_identities.c.record_key, everyone)
    source = {
        key: (frame.record[row].source, frame.record[row].object or "", frame.record[row].source_id)
        for row, key in enumerate(resolved)
    }
    _insert(
        connection,
        source_identities,
        [
            {
                "record_key": a.record_key,
                "source": source[a.record_key][0],
                "object": source[a.record_key][1],
                "source_id": source[a.record_key][2],
                "customer_id": a.customer_id,
                "match_rule": a.match_rule,
                "confidence": a.confidence,
                "updated_at": now,
            }
            for a in outcome.assignments
        ],
    )
    old_ids = sorted(set(previous.values()))
    created = _created(connection, old_ids + outcome.ids)
    _delete_in(connection, customers.c.customer_id, old_ids + outcome.ids)
    _insert(connection, customers, [_golden_row(g, created.get(g.customer_id, now), now) for g in outcome.golden])
    new_ids = [cid for cid in outcome.ids if cid not in created]
    _insert(
        connection,
        identity_customer_ids,
        [
            {"customer_id": cid, "status": "active", "merged_into": None, "created_at": now, "updated_at": now}
            for cid in new_ids
        ],
    )
    for event in outcome.events:
        if event.kind in ("merged", "retired"):
            connection.execute(
                sa.update(identity_customer_ids)
                .where(identity_customer_ids.c.customer_id == event.customer_id)
                .values(status=event.kind, merged_into=event.other_id, updated_at=now)
            )
            if event.kind == "merged":
                connection.execute(
                    sa.update(identity_customer_ids)
                    .where(identity_customer_ids.c.merged_into == event.customer_id)
                    .values(merged_into=event.other_id, updated_at=now)
                )
    _insert(
        connection,
        identity_id_events,
        [
            {"run_id": run_id, "kind": e.kind, "customer_id": e.customer_id, "other_id": e.other_id, "at": now}
            for e in outcome.events
        ],
    )
    _delete_in(connection, identity_records.c.record_key, list(hashes) + list(removed))
    _insert(
        connection,
        identity_records,
        [{"record_key": k, "content_hash": h, "resolved_at": now} for k, h in hashes.items()],
    )


def _write_proposals(connection: Connection, batch: BatchResult, outcome: Outcome, now: datetime, full: bool) -> None:
    """Replace the pending proposed merges of the resolved records with the batch's; decided pairs stay as they are."""
    table = identity_proposed_merges
    keys = batch.frame.key
    if full:
        connection.execute(sa.delete(table).where(table.c.status == PENDING))
    else:
        for chunk in _chunks(sorted(keys)):
            connection.execute(
                sa.delete(table).where(
                    table.c.status == PENDING, sa.or_(table.c.record_a.in_(chunk), table.c.record_b.in_(chunk))
                )
            )
    proposals = batch.proposals
    if proposals is None or not len(proposals):
        return
    customer = {a.record_key: a.customer_id for a in outcome.assignments}
    rows: dict[tuple[str, str], dict] = {}
    for i in range(len(proposals)):
        a, b = sorted((keys[int(proposals.a[i])], keys[int(proposals.b[i])]))
        rows.setdefault(
            (a, b),
            {
                "record_a": a, "record_b": b, "reason": str(proposals.reason[i]),
                "probability": round(float(proposals.probability[i]), 6), "customer_a": customer.get(a),
                "customer_b": customer.get(b), "status": PENDING,
                "evidence": batch.pairs.evidence(int(proposals.pair[i])), "proposed_at": now,
            },
        )  # fmt: skip
    decided: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted({a for a, _ in rows})):
        query = select(table.c.record_a, table.c.record_b).where(table.c.record_a.in_(chunk))
        decided.update((a, b) for a, b in connection.execute(query))
    _insert(connection, table, [row for pair, row in rows.items() if pair not in decided])


def _created(connection: Connection, ids: Sequence[str]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = select(identity_customer_ids.c.customer_id, identity_customer_ids.c.created_at).where(
            identity_customer_ids.c.customer_id.in_(chunk)
        )
        out.update(dict(connection.execute(query).all()))
    return out


# --- runs ----------------------------------------------------------------------------------------


def _report(
    connection: Connection, batch: BatchResult, outcome: Outcome, mode: str, read: int, removed: int
) -> ResolutionReport:
    status = batch.clustering.status
    used = status == ACCEPTED
    links: dict[str, int] = {}
    for rule in batch.edges.rule[used].tolist():
        links[RULES[rule]] = links.get(RULES[rule], 0) + 1
    refused: dict[str, int] = {}
    for e in np.flatnonzero(status == REFUSED).tolist():
        reason = batch.clustering.reasons[e]
        refused[reason] = refused.get(reason, 0) + 1
    demoted: dict[str, int] = {}
    for group in batch.groups.demoted():
        if group.reason:
            name = group.reason.split("_")[0]
            demoted[name] = demoted.get(name, 0) + 1
    kinds = [e.kind for e in outcome.events]
    total = connection.execute(select(func.count()).select_from(customers)).scalar_one()
    largest = connection.execute(select(func.max(customers.c.record_count))).scalar_one() or 0
    singles = connection.execute(
        select(func.count()).select_from(customers).where(customers.c.record_count == 1)
    ).scalar_one()
    records = connection.execute(select(func.count()).select_from(source_identities)).scalar_one()
    return ResolutionReport(
        mode=mode,
        records_read=read,
        records_resolved=len(batch.frame),
        records_removed=removed,
        customers_total=int(total),
        customers_new=kinds.count("new"),
        customers_merged=kinds.count("merged"),
        customers_split=kinds.count("split"),
        customers_retired=kinds.count("retired"),
        links_by_rule=dict(sorted(links.items())),
        refused_links=dict(sorted(refused.items())),
        review_pairs=batch.review_count,
        proposed_merges=proposal_reasons(batch),
        demoted_keys=demoted,
        flagged_clusters=outcome.flagged(),
        largest_cluster=int(largest),
        singleton_share=round(singles / records, 6) if records else 0.0,
        candidate_pairs=batch.candidate_count,
        skipped_blocks=batch.skipped_blocks,
        timings={k: round(v, 4) for k, v in batch.timings.items()},
    )


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
    rows = connection.execute(select(*_RECORD_COLUMNS).order_by(customer_records.c.record_key)).all()
    hashes = {row.record_key: row.content_hash for row in rows}
    frame = Frame.from_records((record_from_row(row) for row in rows), config)
    decisions = load_decisions(connection)
    batch = resolve_frame(frame, config, overrides=Overrides.from_decisions(decisions))
    previous = dict(connection.execute(select(source_identities.c.record_key, source_identities.c.customer_id)).all())
    issued = {
        cid: (created.timestamp(), cid)
        for cid, created in connection.execute(
            select(identity_customer_ids.c.customer_id, identity_customer_ids.c.created_at)
        )
    }
    outcome = conclude(batch, previous, issued, issued, config)
    connection.execute(
        sa.insert(identity_models).values(trained_at=now, records=len(frame), parameters=batch.model.to_dict())
    )
    connection.execute(sa.delete(identity_keys))
    _insert(
        connection,
        identity_keys,
        [
            {"record_key": k, "kind": kind, "value": value}
            for k, pairs in _key_rows(frame, config).items()
            for kind, value in pairs
        ],
    )
    connection.execute(sa.delete(identity_links))
    removed = sorted(set(previous) - set(hashes))
    stale = sorted(set(previous.values()) - set(outcome.ids))
    connection.execute(sa.delete(source_identities))
    connection.execute(sa.delete(identity_records))
    previous_for_write = {k: v for k, v in previous.items() if k in hashes}
    _write_outcome(connection, batch, outcome, hashes, previous_for_write, removed, run_id, now)
    _write_proposals(connection, batch, outcome, now, full=True)
    _delete_in(connection, customers.c.customer_id, stale)
    return _report(connection, batch, outcome, "full", len(frame), len(removed))


def _incremental(
    connection: Connection,
    config: IdentityConfig,
    model: MatchModel,
    now: datetime,
    run_id: int,
    mode: str,
    extra_seeds: Sequence[str] = (),
) -> ResolutionReport:
    changed_rows = connection.execute(
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
        .order_by(customer_records.c.record_key)
    ).all()
    removed = [
        k
        for (k,) in connection.execute(
            select(identity_records.c.record_key)
            .select_from(
                identity_records.outerjoin(
                    customer_records, customer_records.c.record_key == identity_records.c.record_key
                )
            )
            .where(customer_records.c.record_key.is_(None))
        )
    ]
    if not changed_rows and not removed and not extra_seeds:
        total = connection.execute(select(func.count()).select_from(customers)).scalar_one()
        return ResolutionReport(mode=mode, customers_total=int(total))
    changed = Frame.from_records((record_from_row(row) for row in changed_rows), config, model.region)
    hashes = {row.record_key: row.content_hash for row in changed_rows}
    old_keys = _stored_keys(connection, list(changed.key) + removed)
    new_keys = _key_rows(changed, config)
    _write_keys(connection, new_keys)
    _delete_in(connection, identity_keys.c.record_key, removed)
    decisions = load_decisions(connection)
    overrides = Overrides.from_decisions(decisions)
    seeds = _seeds(connection, changed, old_keys, new_keys, removed, model, config) | set(extra_seeds)
    closure = _closure(connection, seeds, overrides, config)
    loaded = _load_records(connection, sorted(closure))
    records = {key: record for record, key, _ in loaded}
    for _, key, content in loaded:
        hashes.setdefault(key, content)
    frame = Frame.from_records((records[k] for k in sorted(records)), config, model.region)
    all_keys = _key_rows(frame, config)
    counts = _counts(connection, {pair for pairs in all_keys.values() for pair in pairs})
    batch = resolve_frame(
        frame,
        config,
        model=model,
        overrides=overrides,
        key_count=lambda kind, value, local: counts.get((kind, value), local),
        block_size=lambda kind, codes: np.asarray([counts.get((kind, str(c)), 0) for c in codes.tolist()]),
    )
    previous = _previous(connection, sorted(closure))
    outcome = conclude(batch, previous, _ages(connection, previous.values()), _IssuedIds(connection), config)
    _write_outcome(connection, batch, outcome, hashes, previous, removed, run_id, now)
    _write_proposals(connection, batch, outcome, now, full=False)
    return _report(connection, batch, outcome, mode, len(changed_rows), len(removed))


def resolve_customers(
    engine: Engine, *, config: IdentityConfig, full: bool = False, now: datetime | None = None
) -> ResolutionReport:
    """Resolve customer_records into customers: incremental (new or changed records only) unless `full`.

    The first run, or any run without a stored model, is full; a full run learns a new model.
    """
    started = time.perf_counter()
    moment = _now(now)
    with bulk_work(), engine.begin() as connection:
        model = None if full else load_model(connection)
        mode = "full" if model is None else "incremental"
        run_id = _start_run(connection, mode, moment)
        if model is None:
            report = _full(connection, config, moment, run_id)
        else:
            report = _incremental(connection, config, model, moment, run_id, mode)
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
    with bulk_work(), engine.begin() as connection:
        _insert(
            connection,
            identity_overrides,
            [
                {
                    "kind": d.kind,
                    "record_a": d.record_a,
                    "record_b": d.record_b,
                    "active": d.active,
                    "who": d.who,
                    "why": d.why,
                    "at": d.at,
                }
                for d in decisions
            ],
        )
        model = load_model(connection)
        run_id = _start_run(connection, "override" if model else "full", moment)
        if model is None:
            report = _full(connection, config, moment, run_id)
        else:
            seeds = sorted({k for d in decisions for k in (d.record_a, d.record_b)})
            report = _incremental(connection, config, model, moment, run_id, "override", seeds)
        report.duration_seconds = round(time.perf_counter() - started, 4)
        _finish_run(connection, run_id, report)
    return report
