"""The identity engine: full and incremental resolution in memory, stable ids, overrides, explanations."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from mappings.identity.blocking import BLOCK_KINDS, block_values
from mappings.identity.clusters import ACCEPTED, REDUNDANT, REFUSED, RULES, IdEvent
from mappings.identity.compare import compare, score_columns
from mappings.identity.config import IdentityConfig
from mappings.identity.features import Frame
from mappings.identity.index import Adjacency, HashIndex
from mappings.identity.keys import KEY_COLUMNS, row_values
from mappings.identity.outcome import Assignment, conclude
from mappings.identity.overrides import FORCE_MERGE, NEVER_MERGE, Override, Overrides
from mappings.identity.records import IdentityRecord
from mappings.identity.report import ResolutionReport
from mappings.identity.resolver import BatchResult, resolve_frame
from mappings.identity.scoring import MatchModel, score
from mappings.identity.survivorship import GoldenRecord, GoldenTable, golden_records


@dataclass
class LinkRecord:
    """A link between two records as stored: rule, confidence, what the clustering did with it, evidence."""

    record_a: str
    record_b: str
    rule: str
    confidence: float
    status: str
    reason: str | None
    evidence: dict


@dataclass
class Resolution:
    """The result of one run: changed assignments, golden records and links of the customers it touched."""

    report: ResolutionReport
    assignments: list[Assignment]
    golden: GoldenTable | list[GoldenRecord]
    events: list[IdEvent]
    removed_records: list[str]
    touched_records: list[str]
    batch: BatchResult | None = field(default=None, repr=False)
    batch_rows: np.ndarray | None = field(default=None, repr=False)

    def links(self) -> list[LinkRecord]:
        """Every link considered in this run among touched records, with its evidence."""
        batch = self.batch
        if batch is None:
            return []
        out: list[LinkRecord] = []
        keys = batch.frame.key
        status = batch.clustering.status
        for e in range(len(batch.edges)):
            a, b = int(batch.edges.a[e]), int(batch.edges.b[e])
            ka, kb = sorted((keys[a], keys[b]))
            out.append(
                LinkRecord(
                    record_a=ka, record_b=kb, rule=RULES[int(batch.edges.rule[e])],
                    confidence=round(float(batch.edges.score[e]), 6),
                    status=("accepted", "redundant", "refused")[int(status[e])],
                    reason=batch.clustering.reasons.get(e), evidence=batch.edge_evidence(e),
                )  # fmt: skip
            )
        return out


class _Taken:
    """Ids already issued by an engine (current ones and aliases)."""

    def __init__(self, engine: IdentityEngine) -> None:
        self.engine = engine

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.engine.id_age or customer_id in self.engine.aliases


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)


class IdentityEngine:
    """Resolves records into customers and keeps what incremental runs need: features, indexes, links, ids."""

    def __init__(
        self,
        config: IdentityConfig | None = None,
        *,
        model: MatchModel | None = None,
        overrides: Iterable[Override] = (),
    ) -> None:
        self.config = config or IdentityConfig()
        self.model = model
        self.decisions: list[Override] = list(overrides)
        self.overrides = Overrides.from_decisions(self.decisions)
        self.frame = Frame()
        self.alive: list[bool] = []
        self.fingerprints: list[int] = []
        self.row_of: dict[str, int] = {}
        self.customer: list[str | None] = []
        self.rule: list[str] = []
        self.confidence: list[float] = []
        self.members: dict[str, list[int]] = {}
        self.id_age: dict[str, tuple] = {}
        self.aliases: dict[str, str] = {}
        self.history: list[tuple[datetime, IdEvent]] = []
        self.flags: dict[str, list[str]] = {}
        self.key_index: dict[str, HashIndex] = {}
        self.block_index: dict[str, HashIndex] = {}
        self.block_codes: dict[str, np.ndarray] = {}
        self.adjacency = Adjacency()

    # --- public API ------------------------------------------------------------------------------

    def resolve(
        self, records: Iterable[IdentityRecord], *, now: datetime | None = None, retrain: bool = False
    ) -> Resolution:
        """Full resolution of exactly these records; ids of earlier runs are kept where clusters survive."""
        started = time.perf_counter()
        now = _now(now)
        previous = {key: self.customer[row] for key, row in self.row_of.items() if self.customer[row]}
        frame = Frame()
        fingerprints: list[int] = []
        seen: dict[str, int] = {}
        latest: dict[str, IdentityRecord] = {}
        for record in records:
            latest[record.key] = record
        for record in sorted(latest.values(), key=lambda r: r.key):
            key = record.key
            if key in seen:
                row = seen[key]
                frame.replace(row, record, self.config)
                fingerprints[row] = record.fingerprint()
                continue
            seen[key] = frame.append(record, self.config)
            fingerprints.append(record.fingerprint())
        extract_seconds = time.perf_counter() - started
        removed = sorted(set(previous) - set(seen))
        self.frame, self.fingerprints, self.row_of = frame, fingerprints, seen
        n = len(frame)
        self.alive = [True] * n
        self.customer, self.rule, self.confidence = [None] * n, ["singleton"] * n, [1.0] * n
        self.members, self.flags = {}, {}
        batch = resolve_frame(
            frame, self.config, model=None if retrain else self.model, overrides=self.overrides
        )
        self.model = batch.model
        rows = np.arange(n)
        resolution = self._apply(batch, rows, previous, removed, now, mode="full")
        clock = time.perf_counter()
        self._build_indexes(batch)
        resolution.report.timings["indexes"] = time.perf_counter() - clock
        resolution.report.timings["features"] = extract_seconds
        resolution.report.records_read = n
        resolution.report.duration_seconds = time.perf_counter() - started
        return resolution

    def update(
        self, records: Iterable[IdentityRecord], removed: Iterable[str] = (), *, now: datetime | None = None
    ) -> Resolution:
        """Resolve new or changed records (and removals) against the existing customers.

        Only the connected part of the link graph they touch is resolved again, with the frozen model;
        the outcome is the same as a full resolution of all records with that model.
        """
        started = time.perf_counter()
        now = _now(now)
        if self.model is None:
            return self.resolve(records, now=now)
        changed: list[int] = []
        before: dict[int, tuple[dict[str, tuple[str, ...]], dict[str, int]]] = {}
        read = 0
        for record in records:
            read += 1
            key = record.key
            row = self.row_of.get(key)
            fingerprint = record.fingerprint()
            if row is not None and self.alive[row] and self.fingerprints[row] == fingerprint:
                continue
            if row is None:
                row = self.frame.append(record, self.config)
                self.row_of[key] = row
                self.alive.append(True)
                self.fingerprints.append(fingerprint)
                self.customer.append(None)
                self.rule.append("singleton")
                self.confidence.append(1.0)
            else:
                before[row] = self._snapshot(row)
                self.frame.replace(row, record, self.config)
                self.alive[row] = True
                self.fingerprints[row] = fingerprint
            changed.append(row)
        removed_keys: list[str] = []
        for key in removed:
            row = self.row_of.get(key)
            if row is None or not self.alive[row]:
                continue
            before[row] = self._snapshot(row)
            self.alive[row] = False
            removed_keys.append(key)
            changed.append(row)
        if not changed:
            report = ResolutionReport(mode="incremental", records_read=read)
            report.customers_total = len(self.members)
            report.duration_seconds = time.perf_counter() - started
            return Resolution(report, [], [], [], [], [])
        clock = time.perf_counter()
        self._index_rows(changed)
        seeds = self._seeds(changed, before)
        closure = self._closure(seeds)
        timings = {"closure": time.perf_counter() - clock}
        live = np.asarray(sorted(r for r in closure if self.alive[r]), dtype=np.int64)
        previous = {self.frame.key[r]: self.customer[r] for r in closure if self.customer[r]}
        for row in closure:
            if not self.alive[row]:
                self._forget(row)
        sub = self.frame.take(live)
        batch = resolve_frame(
            sub, self.config, model=self.model, overrides=self.overrides,
            key_count=self._key_count, block_size=self._block_size,
        )  # fmt: skip
        resolution = self._apply(batch, live, previous, removed_keys, now, mode="incremental")
        self._replace_adjacency(batch, live)
        resolution.report.records_read = read
        resolution.report.timings.update(timings)
        resolution.report.duration_seconds = time.perf_counter() - started
        return resolution

    def add_override(
        self, kind: str, record_a: str, record_b: str, who: str, why: str, *, now: datetime | None = None
    ) -> Resolution:
        """Record a steward decision (force_merge or never_merge) and resolve the records it touches."""
        decision = Override(kind, record_a, record_b, who, why, _now(now))
        return self.apply_decisions([decision], now=now)

    def unmerge(
        self, customer_id: str, record_keys: Sequence[str], who: str, why: str, *, now: datetime | None = None
    ) -> Resolution:
        """Split records out of a customer: never-merge decisions between them and the rest of the cluster."""
        customer_id = self.resolve_alias(customer_id)
        rows = self.members.get(customer_id)
        if not rows:
            raise KeyError(f"unknown customer {customer_id}")
        keys = {self.frame.key[r] for r in rows}
        split = set(record_keys)
        if not split or not split < keys:
            raise ValueError("record_keys must be a non-empty proper subset of the customer's records")
        moment = _now(now)
        decisions = [
            Override(NEVER_MERGE, a, b, who, f"unmerge {customer_id}: {why}", moment)
            for a in sorted(split)
            for b in sorted(keys - split)
        ]
        for a, b in sorted(self.overrides.force):
            if (a in split) != (b in split) and a in keys and b in keys:
                decisions.append(Override(FORCE_MERGE, a, b, who, f"unmerge {customer_id}: {why}", moment, False))
        return self.apply_decisions(decisions, now=now)

    def apply_decisions(self, decisions: Sequence[Override], *, now: datetime | None = None) -> Resolution:
        """Add steward decisions and resolve again the records they concern."""
        self.decisions.extend(decisions)
        self.overrides = Overrides.from_decisions(self.decisions)
        rows = [self.row_of[k] for d in decisions for k in (d.record_a, d.record_b) if k in self.row_of]
        return self._rerun(rows, now)

    def customer_of(self, record_key: str) -> str | None:
        """The customer id of a record."""
        row = self.row_of.get(record_key)
        return self.customer[row] if row is not None and self.alive[row] else None

    def resolve_alias(self, customer_id: str) -> str:
        """The current id for an id that may have been merged into another."""
        seen = set()
        while customer_id in self.aliases and customer_id not in seen:
            seen.add(customer_id)
            customer_id = self.aliases[customer_id]
        return customer_id

    def clusters(self) -> dict[str, list[str]]:
        """Record keys by customer id."""
        keys = self.frame.key
        return {cid: sorted(keys[r] for r in rows) for cid, rows in self.members.items()}

    def partition(self) -> set[frozenset[str]]:
        """The clusters as sets of record keys (to compare two resolutions regardless of ids)."""
        return {frozenset(keys) for keys in self.clusters().values()}

    def golden(self, customer_id: str) -> GoldenRecord:
        """The golden record of one customer."""
        customer_id = self.resolve_alias(customer_id)
        rows = sorted(self.members[customer_id], key=self.frame.key.__getitem__)
        sub = self.frame.take(rows)
        flags = [self.flags.get(customer_id, [])]
        return golden_records(sub, [list(range(len(rows)))], [customer_id], self.config, flags)[0]

    def record(self, record_key: str) -> IdentityRecord:
        """The record as last seen."""
        return self.frame.record[self.row_of[record_key]]

    def explain(self, record_a: str, record_b: str) -> dict:
        """Why two records are, or are not, the same customer: shared keys, field scores, guards, link path."""
        from mappings.identity.explain import explain_rows

        return explain_rows(self, self.row_of[record_a], self.row_of[record_b])

    # --- internals -------------------------------------------------------------------------------

    def _rerun(self, rows: Sequence[int], now: datetime | None) -> Resolution:
        started = time.perf_counter()
        moment = _now(now)
        if self.model is None or not rows:
            return self.resolve(list(self.frame.record), now=moment)
        closure = self._closure(set(rows))
        live = np.asarray(sorted(r for r in closure if self.alive[r]), dtype=np.int64)
        previous = {self.frame.key[r]: self.customer[r] for r in closure if self.customer[r]}
        batch = resolve_frame(
            self.frame.take(live), self.config, model=self.model, overrides=self.overrides,
            key_count=self._key_count, block_size=self._block_size,
        )  # fmt: skip
        resolution = self._apply(batch, live, previous, [], moment, mode="override")
        self._replace_adjacency(batch, live)
        resolution.report.duration_seconds = time.perf_counter() - started
        return resolution

    def _apply(
        self, batch: BatchResult, rows: np.ndarray, previous: dict[str, str], removed: list[str],
        now: datetime, mode: str,
    ) -> Resolution:  # fmt: skip
        """Give the batch's clusters stable ids and store them; build the run's report and golden records."""
        clock = time.perf_counter()
        taken = _Taken(self)
        outcome = conclude(batch, previous, self.id_age, taken, self.config, golden=False)
        timings = dict(batch.timings)
        timings["ids"] = time.perf_counter() - clock
        rows_list = rows.tolist()
        for old in set(previous.values()):
            self.members.pop(old, None)
            self.flags.pop(old, None)
        assignments: list[Assignment] = []
        position = 0
        for cid, members, flags in zip(outcome.ids, outcome.clusters, outcome.flags, strict=True):
            global_rows = [rows_list[r] for r in members]
            self.members[cid] = global_rows
            if cid not in self.id_age:
                self.id_age[cid] = (now.timestamp(), cid)
            if flags:
                self.flags[cid] = flags
            for row in global_rows:
                found = outcome.assignments[position]
                position += 1
                changed = (
                    self.customer[row] != found.customer_id
                    or self.rule[row] != found.match_rule
                    or self.confidence[row] != found.confidence
                )
                self.customer[row] = found.customer_id
                self.rule[row], self.confidence[row] = found.match_rule, found.confidence
                if changed or mode != "full":
                    assignments.append(found)
        for event in outcome.events:
            self.history.append((now, event))
            if event.kind == "merged" and event.other_id:
                self.aliases[event.customer_id] = event.other_id
        clock = time.perf_counter()
        golden = golden_records(batch.frame, outcome.clusters, outcome.ids, self.config, outcome.flags)
        timings["golden"] = time.perf_counter() - clock
        report = self._report(batch, mode, outcome.events, outcome.flagged(), outcome.clusters, removed, timings)
        return Resolution(
            report=report, assignments=assignments, golden=golden, events=outcome.events, removed_records=removed,
            touched_records=list(batch.frame.key), batch=batch, batch_rows=rows,
        )  # fmt: skip

    def _report(
        self, batch: BatchResult, mode: str, events: list[IdEvent], flagged: list[dict],
        clusters: list[list[int]], removed: list[str], timings: dict[str, float],
    ) -> ResolutionReport:  # fmt: skip
        status = batch.clustering.status
        rules = batch.edges.rule
        used = (status == ACCEPTED) | (status == REDUNDANT)
        links = Counter(RULES[int(r)] for r in rules[used].tolist())
        refused = Counter(batch.clustering.reasons[e] for e in np.flatnonzero(status == REFUSED).tolist())
        demoted = Counter(g.reason.split("_")[0] if g.reason else "" for g in batch.groups if g.status == "demoted")
        kinds = Counter(e.kind for e in events)
        sizes = [len(self.members[cid]) for cid in self.members] if mode == "full" else [len(c) for c in clusters]
        all_sizes = sizes if mode == "full" else [len(rows) for rows in self.members.values()]
        alive_total = sum(all_sizes)
        singles = sum(1 for s in all_sizes if s == 1)
        return ResolutionReport(
            mode=mode,
            records_resolved=len(batch.frame),
            records_removed=len(removed),
            customers_total=len(self.members),
            customers_new=kinds["new"],
            customers_merged=kinds["merged"],
            customers_split=kinds["split"],
            customers_retired=kinds["retired"],
            links_by_rule=dict(sorted(links.items())),
            refused_links=dict(sorted(refused.items())),
            review_pairs=batch.review_count,
            demoted_keys=dict(demoted),
            flagged_clusters=sorted(flagged, key=lambda f: (-f["size"], f["customer_id"])),
            largest_cluster=max(all_sizes, default=0),
            singleton_share=round(singles / alive_total, 6) if alive_total else 0.0,
            candidate_pairs=batch.candidate_count,
            skipped_blocks=batch.skipped_blocks,
            timings={k: round(v, 4) for k, v in timings.items()},
        )

    def _snapshot(self, row: int) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
        keys = {kind: row_values(self.frame, kind, row) for kind in self.config.deterministic_keys}
        blocks = {kind: int(self.block_codes[kind][row]) for kind in BLOCK_KINDS if kind in self.block_codes}
        return keys, blocks

    def _forget(self, row: int) -> None:
        for kind in self.block_codes:
            self.block_codes[kind][row] = 0

    def _build_indexes(self, batch: BatchResult) -> None:
        frame = self.frame
        n = len(frame)
        for kind in self.config.deterministic_keys:
            column = getattr(frame, KEY_COLUMNS[kind])
            if kind == "external_id":
                pairs = [(hash(value), row) for row, values in enumerate(column) for value in values]
                hashes = np.fromiter((h for h, _ in pairs), dtype=np.int64, count=len(pairs))
                rows = np.fromiter((r for _, r in pairs), dtype=np.int64, count=len(pairs))
            else:
                codes = np.fromiter((hash(v) if v else 0 for v in column), dtype=np.int64, count=n)
                rows = np.flatnonzero(codes != 0)
                hashes = codes[rows]
            self.key_index[kind] = HashIndex(hashes, rows)
        for kind in BLOCK_KINDS:
            codes = batch.block_codes.get(kind)
            if codes is None:
                values = block_values(frame, kind)
                codes = np.fromiter((hash(v) if v else 0 for v in values), dtype=np.int64, count=n)
            self.block_codes[kind] = codes
            present = np.flatnonzero(codes != 0)
            self.block_index[kind] = HashIndex(codes[present], present)
        status = batch.clustering.status
        prob = batch.edges.rule == len(RULES) - 1
        keep = prob | (status == REFUSED)
        self.adjacency = Adjacency(n, batch.edges.a[keep], batch.edges.b[keep])

    def _index_rows(self, rows: list[int]) -> None:
        n = len(self.frame)
        for kind in BLOCK_KINDS:
            codes = self.block_codes.get(kind, np.zeros(0, dtype=np.int64))
            if len(codes) < n:
                codes = np.concatenate([codes, np.zeros(n - len(codes), dtype=np.int64)])
            self.block_codes[kind] = codes
            self.block_index.setdefault(kind, HashIndex())
        live = [r for r in rows if self.alive[r]]
        sub = self.frame.take(live)
        for kind in BLOCK_KINDS:
            values = block_values(sub, kind)
            for row, value in zip(live, values, strict=True):
                code = hash(value) if value else 0
                self.block_codes[kind][row] = code
                if code:
                    self.block_index[kind].add(code, row)
        for row in rows:
            if not self.alive[row]:
                self._forget(row)
        for kind in self.config.deterministic_keys:
            index = self.key_index.setdefault(kind, HashIndex())
            for row in live:
                for value in row_values(self.frame, kind, row):
                    index.add(hash(value), row)

    def _key_members(self, kind: str, value: str) -> list[int]:
        rows = self.key_index[kind].lookup(hash(value)) if kind in self.key_index else []
        out = {r for r in rows if self.alive[r] and value in row_values(self.frame, kind, r)}
        return sorted(out)

    def _block_members(self, kind: str, code: int) -> list[int]:
        if not code or kind not in self.block_index:
            return []
        codes = self.block_codes[kind]
        return sorted({r for r in self.block_index[kind].lookup(code) if self.alive[r] and codes[r] == code})

    def _key_count(self, kind: str, value: str, local: int) -> int:
        return len(self._key_members(kind, value))

    def _block_size(self, kind: str, values: list[str]) -> np.ndarray:
        return np.asarray([len(self._block_members(kind, hash(v))) for v in values], dtype=np.int64)

    def _seeds(self, changed: list[int], before: dict) -> set[int]:
        """Rows whose links may change: the changed rows, key-mates, and block-mates that now score as links."""
        config = self.config
        seeds: set[int] = set(changed)
        mates: dict[int, set[int]] = {}
        for row in changed:
            old_keys, old_blocks = before.get(row, ({}, {}))
            for kind in config.deterministic_keys:
                now_values = set(row_values(self.frame, kind, row)) if self.alive[row] else set()
                for value in now_values | set(old_keys.get(kind, ())):
                    members = self._key_members(kind, value)
                    was = len(members) - (value in now_values) + (value in old_keys.get(kind, ()))
                    if min(len(members), was) <= config.max_records_per_key:
                        seeds.update(members)
            for kind in BLOCK_KINDS:
                now_code = int(self.block_codes[kind][row]) if self.alive[row] else 0
                old_code = old_blocks.get(kind, 0)
                for code in {now_code, old_code} - {0}:
                    members = self._block_members(kind, code)
                    was = len(members) - (code == now_code) + (code == old_code)
                    limit = config.max_block_size
                    if (was <= limit) != (len(members) <= limit):
                        seeds.update(members)
                    elif len(members) <= limit and self.alive[row]:
                        mates.setdefault(row, set()).update(members)
        keys = self.frame.key
        oriented = sorted(
            {(row, other) if keys[row] < keys[other] else (other, row)
             for row, found in mates.items() for other in found if other != row}
        )  # fmt: skip
        pairs_a = [p[0] for p in oriented]
        pairs_b = [p[1] for p in oriented]
        if pairs_a and self.model is not None:
            frame = self.frame
            columns = {}
            everything = sorted(set(pairs_a) | set(pairs_b))
            local = {r: i for i, r in enumerate(everything)}
            sub = frame.take(everything)
            columns = score_columns(sub)
            a = np.fromiter((local[r] for r in pairs_a), dtype=np.int64, count=len(pairs_a))
            b = np.fromiter((local[r] for r in pairs_b), dtype=np.int64, count=len(pairs_b))
            comparison = compare(columns, a, b, config.workers)
            probability = score(comparison, columns, a, self.model).probability
            hit = np.flatnonzero(probability >= config.match_probability)
            seeds.update(pairs_b[i] for i in hit.tolist())
            seeds.update(pairs_a[i] for i in hit.tolist())
        return seeds

    def _closure(self, seeds: set[int]) -> set[int]:
        """Every row connected to the seeds through links, shared keys, steward merges or current clusters."""
        config = self.config
        partners = self.overrides.partners() if self.overrides else {}
        seen = set(seeds)
        frontier = list(seeds)
        while frontier:
            row = frontier.pop()
            found: list[int] = list(self.adjacency.neighbours(row))
            cid = self.customer[row]
            if cid is not None and cid in self.members:
                found.extend(self.members[cid])
            if self.alive[row]:
                for kind in config.deterministic_keys:
                    for value in row_values(self.frame, kind, row):
                        members = self._key_members(kind, value)
                        if 1 < len(members) <= config.max_records_per_key:
                            found.extend(members)
            for other in partners.get(self.frame.key[row], ()):
                other_row = self.row_of.get(other)
                if other_row is not None:
                    found.append(other_row)
            for other in found:
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        return seen

    def _replace_adjacency(self, batch: BatchResult, rows: np.ndarray) -> None:
        status = batch.clustering.status
        prob = batch.edges.rule == len(RULES) - 1
        keep = np.flatnonzero(prob | (status == REFUSED))
        neighbours: dict[int, list[int]] = {int(r): [] for r in rows.tolist()}
        for e in keep.tolist():
            a, b = int(rows[batch.edges.a[e]]), int(rows[batch.edges.b[e]])
            neighbours[a].append(b)
            neighbours[b].append(a)
        for row, found in neighbours.items():
            self.adjacency.replace(row, found)
