"""The identity engine: full and incremental resolution in memory, stable ids, overrides, explanations."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from canalis.collector import collector_paused
from canalis.identity.blocking import BLOCK_KINDS, block_codes
from canalis.identity.clusters import ACCEPTED, REFUSED, RULES, STATUS_NAMES, IdEvent
from canalis.identity.compare import compare, score_columns
from canalis.identity.config import IdentityConfig
from canalis.identity.features import Frame
from canalis.identity.index import Adjacency, HashIndex
from canalis.identity.keys import KEY_COLUMNS, row_values
from canalis.identity.outcome import Assignment, Outcome, conclude
from canalis.identity.overrides import FORCE_MERGE, NEVER_MERGE, Override, Overrides
from canalis.identity.records import IdentityRecord
from canalis.identity.report import ResolutionReport
from canalis.identity.resolver import BatchResult, resolve_frame
from canalis.identity.resolver import proposal_reasons as _proposal_reasons
from canalis.identity.scoring import MatchModel, score
from canalis.identity.survivorship import GoldenRecord, GoldenTable, golden_records


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
    """The result of one run: assignments, golden records and links of the records and customers it touched."""

    report: ResolutionReport
    outcome: Outcome | None
    golden: GoldenTable | list[GoldenRecord]
    events: list[IdEvent]
    removed_records: list[str]
    touched_records: list[str]
    batch: BatchResult | None = field(default=None, repr=False)
    batch_rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def assignments(self) -> list[Assignment]:
        """Customer, rule and confidence of every record this run resolved."""
        return self.outcome.assignments if self.outcome is not None else []

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
                    record_a=ka,
                    record_b=kb,
                    rule=RULES[int(batch.edges.rule[e])],
                    confidence=round(float(batch.edges.score[e]), 6),
                    status=STATUS_NAMES[int(status[e])],
                    reason=batch.clustering.reasons.get(e),
                    evidence=batch.edge_evidence(e),
                )
            )
        return out


_TEXT_COLUMNS: tuple[str, ...] = (
    "key", "source", "email", "email_local", "phone", "loyalty", "given", "family", "family_sound", "postcode",
    "street", "city", "country",
)  # fmt: skip


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
        self.row_of: dict[str, int] = {}
        self.customer: list[str | None] = []
        self.rule: list[str] = []
        self.confidence: list[float] = []
        self.members: dict[str, list[int]] = {}
        self.id_age: dict[str, tuple] = {}
        self.aliases: dict[str, str] = {}
        self.history: list[tuple[datetime, IdEvent]] = []
        self.flags: dict[str, list[str]] = {}
        self.block_codes: dict[str, np.ndarray] = {}
        # Indexes of key values and block codes (see the properties below), built when first needed.
        self._key_index: dict[str, HashIndex] = {}
        self._block_index: dict[str, HashIndex] = {}
        self._key_codes: dict[str, np.ndarray] = {}
        self._referenced: set[str] = set()
        self._indexes_stale = False
        self.adjacency = Adjacency()
        # Reads records by key (a restored engine keeps features, not records): {record_key: IdentityRecord}.
        self.record_loader: Callable[[list[str]], dict[str, IdentityRecord]] | None = None
        self._alive_cache: tuple | None = None
        self._alive_version = 0  # bumped whenever `alive` changes

    # --- indexes ---------------------------------------------------------------------------------
    # Only incremental work (update, steward decisions) looks records up by key value or block code. A full
    # resolution, or a restored state, marks the indexes stale and they are built on first use: a store's full
    # run saves its state and ends, and the offline command never updates, so neither builds them. They are
    # built before an update changes the frame (see _update).

    @property
    def key_index(self) -> dict[str, HashIndex]:
        """Rows by hash of each deterministic key value, per key kind."""
        self._ensure_indexes()
        return self._key_index

    @property
    def block_index(self) -> dict[str, HashIndex]:
        """Rows by block code, per blocking kind."""
        self._ensure_indexes()
        return self._block_index

    @property
    def key_codes(self) -> dict[str, np.ndarray]:
        """Hash of each row's key value (0: none or not alive), per single-valued key kind."""
        self._ensure_indexes()
        return self._key_codes

    @property
    def referenced(self) -> set[str]:
        """External ids some record names as the same person's id in another system."""
        self._ensure_indexes()
        return self._referenced

    def _ensure_indexes(self) -> None:
        if self._indexes_stale:
            self._indexes_stale = False
            self._build_key_index()
            self._build_block_index()

    # --- public API ------------------------------------------------------------------------------

    def resolve(
        self,
        records: Iterable[IdentityRecord],
        *,
        now: datetime | None = None,
        retrain: bool = False,
        golden: bool = True,
    ) -> Resolution:
        """Full resolution of exactly these records; ids of earlier runs are kept where clusters survive.

        `golden=False` leaves the run's golden records out (`Resolution.golden` is empty), for a caller that
        only wants the assignments; `golden(customer_id)` still builds one on demand.
        """
        with collector_paused():
            return self._resolve(records, now=now, retrain=retrain, golden=golden)

    def _resolve(
        self, records: Iterable[IdentityRecord], *, now: datetime | None, retrain: bool, golden: bool = True
    ) -> Resolution:
        started = time.perf_counter()
        now = _now(now)
        previous = {key: self.customer[row] for key, row in self.row_of.items() if self.customer[row]}
        latest: dict[str, IdentityRecord] = {}
        for record in records:
            latest[record.key] = record
        region = self.model.region if self.model is not None and not retrain else None
        frame = Frame.from_records([latest[key] for key in sorted(latest)], self.config, region)
        seen = {key: row for row, key in enumerate(frame.key)}
        extract_seconds = time.perf_counter() - started
        removed = sorted(set(previous) - set(seen))
        self.frame, self.row_of = frame, seen
        n = len(frame)
        self.alive = [True] * n
        self.customer, self.rule, self.confidence = [None] * n, ["singleton"] * n, [1.0] * n
        self.members, self.flags = {}, {}
        batch = resolve_frame(frame, self.config, model=None if retrain else self.model, overrides=self.overrides)
        self.model = batch.model
        rows = np.arange(n)
        resolution = self._apply(batch, rows, previous, removed, now, mode="full", golden=golden)
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
        with collector_paused():
            return self._update(records, removed, now=now)

    def _update(self, records: Iterable[IdentityRecord], removed: Iterable[str], *, now: datetime | None) -> Resolution:
        started = time.perf_counter()
        now = _now(now)
        if self.model is None:
            return self.resolve(records, now=now)
        self._ensure_indexes()  # from the frame as it was, before the loop below changes it
        changed: list[int] = []
        before: dict[int, dict[str, tuple[str, ...]]] = {}  # key values of changed rows before the change
        read = 0
        for record in records:
            read += 1
            key = record.key
            row = self.row_of.get(key)
            known = self.frame.record[row] if row is not None else None
            if known is not None and self.alive[row] and known.fingerprint() == record.fingerprint():
                continue
            if row is None:
                row = self.frame.append(record, self.config, self.model.region)
                self.row_of[key] = row
                self.alive.append(True)
                self.customer.append(None)
                self.rule.append("singleton")
                self.confidence.append(1.0)
            else:
                before[row] = self._snapshot(row)
                self.frame.replace(row, record, self.config, self.model.region)
                self.alive[row] = True
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
        self._alive_version += 1
        if not changed:
            report = ResolutionReport(mode="incremental", records_read=read)
            report.customers_total = len(self.members)
            report.duration_seconds = time.perf_counter() - started
            return Resolution(report, None, [], [], [], [])
        clock = time.perf_counter()
        old_blocks = self._block_codes_of(changed)
        self._index_rows(changed)
        seeds = self._seeds(changed, before, old_blocks)
        closure = self._closure(seeds)
        timings = {"closure": time.perf_counter() - clock}
        live = np.asarray(sorted(r for r in closure if self.alive[r]), dtype=np.int64)
        previous = {self.frame.key[r]: self.customer[r] for r in closure if self.customer[r]}
        for row in closure:
            if not self.alive[row]:
                self._forget(row)
        self._ensure_records(live.tolist())
        sub = self.frame.take(live)
        batch = resolve_frame(
            sub,
            self.config,
            model=self.model,
            overrides=self.overrides,
            key_count=self._key_count,
            block_size=self._block_size,
        )
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
        from canalis.identity.explain import explain_rows

        return explain_rows(self, self.row_of[record_a], self.row_of[record_b])

    # --- internals -------------------------------------------------------------------------------

    def _rerun(self, rows: Sequence[int], now: datetime | None) -> Resolution:
        started = time.perf_counter()
        moment = _now(now)
        if self.model is None or not rows:
            return self.resolve(
                [r for r, alive in zip(self.frame.record, self.alive, strict=True) if alive], now=moment
            )
        closure = self._closure(set(rows))
        live = np.asarray(sorted(r for r in closure if self.alive[r]), dtype=np.int64)
        previous = {self.frame.key[r]: self.customer[r] for r in closure if self.customer[r]}
        self._ensure_records(live.tolist())
        batch = resolve_frame(
            self.frame.take(live),
            self.config,
            model=self.model,
            overrides=self.overrides,
            key_count=self._key_count,
            block_size=self._block_size,
        )
        resolution = self._apply(batch, live, previous, [], moment, mode="override")
        self._replace_adjacency(batch, live)
        resolution.report.duration_seconds = time.perf_counter() - started
        return resolution

    def _apply(
        self, batch: BatchResult, rows: np.ndarray, previous: dict[str, str], removed: list[str],
        now: datetime, mode: str, golden: bool = True,
    ) -> Resolution:  # fmt: skip
        """Give the batch's clusters stable ids and store them; build the run's report and (unless `golden` is
        false) golden records."""
        clock = time.perf_counter()
        taken = _Taken(self)
        outcome = conclude(batch, previous, self.id_age, taken, self.config, golden=False)
        timings = dict(batch.timings)
        timings["ids"] = time.perf_counter() - clock
        rows_list = rows.tolist()
        for old in set(previous.values()):
            self.members.pop(old, None)
            self.flags.pop(old, None)
        local_rows = outcome.rows.tolist()
        cluster_index = outcome.cluster_index.tolist()
        rule_index = outcome.rule_index.tolist()
        confidence = outcome.confidence.tolist()
        ids = outcome.ids
        for cid, members, flags in zip(ids, outcome.clusters, outcome.flags, strict=True):
            self.members[cid] = [rows_list[r] for r in members]
            if cid not in self.id_age:
                self.id_age[cid] = (now.timestamp(), cid)
            if flags:
                self.flags[cid] = flags
        customer, rules_of, confidence_of = self.customer, self.rule, self.confidence
        for local, c, r, conf in zip(local_rows, cluster_index, rule_index, confidence, strict=True):
            row = rows_list[local]
            customer[row], rules_of[row], confidence_of[row] = ids[c], RULES[r] if r >= 0 else "singleton", conf
        for event in outcome.events:
            self.history.append((now, event))
            if event.kind == "merged" and event.other_id:
                self.aliases[event.customer_id] = event.other_id
        clock = time.perf_counter()
        records: GoldenTable | list[GoldenRecord] = []
        if golden:
            records = golden_records(batch.frame, outcome.clusters, outcome.ids, self.config, outcome.flags)
        timings["golden"] = time.perf_counter() - clock
        report = self._report(batch, mode, outcome.events, outcome.flagged(), outcome.clusters, removed, timings)
        return Resolution(
            report=report,
            outcome=outcome,
            golden=records,
            events=outcome.events,
            removed_records=removed,
            touched_records=list(batch.frame.key),
            batch=batch,
            batch_rows=rows,
        )

    def _report(
        self, batch: BatchResult, mode: str, events: list[IdEvent], flagged: list[dict],
        clusters: list[list[int]], removed: list[str], timings: dict[str, float],
    ) -> ResolutionReport:  # fmt: skip
        status = batch.clustering.status
        rules = batch.edges.rule
        used = status == ACCEPTED
        links = Counter(RULES[int(r)] for r in rules[used].tolist())
        refused = Counter(batch.clustering.reasons[e] for e in np.flatnonzero(status == REFUSED).tolist())
        demoted = Counter(g.reason.split("_")[0] if g.reason else "" for g in batch.groups.demoted())
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
            register_sources=list(batch.registers),
            one_to_one_links=batch.one_to_one,
            proposed_merges=_proposal_reasons(batch),
            demoted_keys=dict(demoted),
            flagged_clusters=sorted(flagged, key=lambda f: (-f["size"], f["customer_id"])),
            largest_cluster=max(all_sizes, default=0),
            singleton_share=round(singles / alive_total, 6) if alive_total else 0.0,
            candidate_pairs=batch.candidate_count,
            skipped_blocks=batch.skipped_blocks,
            timings={k: round(v, 4) for k, v in timings.items()},
        )

    def _snapshot(self, row: int) -> dict[str, tuple[str, ...]]:
        return {kind: row_values(self.frame, kind, row) for kind in self.config.deterministic_keys}

    def _forget(self, row: int) -> None:
        for codes in (*self.block_codes.values(), *self.key_codes.values()):
            codes[row] = 0

    def _build_indexes(self, batch: BatchResult) -> None:
        n = len(self.frame)
        for kind in BLOCK_KINDS:
            codes = batch.block_codes.get(kind)
            if codes is None:
                codes = block_codes(self.frame, [kind])[kind]
            self.block_codes[kind] = codes
        self._indexes_stale = True
        status = batch.clustering.status
        prob = batch.edges.rule == len(RULES) - 1
        keep = prob | (status == REFUSED)
        self.adjacency = Adjacency(n, batch.edges.a[keep], batch.edges.b[keep])

    def _build_key_index(self) -> None:
        frame = self.frame
        n = len(frame)
        self._referenced = {value for values in frame.ext for value in values[1:]}
        alive = np.fromiter(self.alive, dtype=bool, count=n) if len(self.alive) == n else np.ones(n, dtype=bool)
        for kind in self.config.deterministic_keys:
            column = getattr(frame, KEY_COLUMNS[kind])
            if kind == "external_id":
                pairs = [(hash(value), row) for row, values in enumerate(column) for value in values]
                hashes = np.fromiter((h for h, _ in pairs), dtype=np.int64, count=len(pairs))
                rows = np.fromiter((r for _, r in pairs), dtype=np.int64, count=len(pairs))
            else:
                codes = np.fromiter(map(hash, column), dtype=np.int64, count=n)
                codes[~alive] = 0
                self._key_codes[kind] = codes
                rows = np.flatnonzero(codes != 0)
                hashes = codes[rows]
            self._key_index[kind] = HashIndex(hashes, rows)

    def _build_block_index(self) -> None:
        for kind in BLOCK_KINDS:
            codes = self.block_codes[kind]
            present = np.flatnonzero(codes != 0)
            self._block_index[kind] = HashIndex(codes[present], present)

    # --- saved state -----------------------------------------------------------------------------

    def to_state(self) -> bytes:
        """The engine's resolved state as bytes (see canalis.identity.state); records themselves are not kept."""
        from canalis.identity.state import encode

        frame = self.frame
        parts: dict = {"region": frame.region, "model": self.model.to_dict() if self.model else None}
        for name in _TEXT_COLUMNS:
            parts[f"frame.{name}"] = getattr(frame, name)
        parts["frame.ext"] = frame.ext
        parts["frame.dob"] = np.asarray(frame.dob, dtype=np.int64)
        parts["frame.updated"] = np.asarray(frame.updated, dtype=np.float64)
        parts["alive"] = np.fromiter(self.alive, dtype=bool, count=len(self.alive))
        parts["customer"] = [c or "" for c in self.customer]
        parts["rule"] = self.rule
        parts["confidence"] = np.asarray(self.confidence, dtype=np.float64)
        parts["id_age.ids"] = list(self.id_age)
        parts["id_age.at"] = np.fromiter((age[0] for age in self.id_age.values()), dtype=np.float64)
        parts["aliases"] = self.aliases
        parts["flags"] = self.flags
        for kind in BLOCK_KINDS:
            parts[f"block.{kind}"] = self.block_codes[kind]
        indptr, indices = self.adjacency.compact(len(frame))
        parts["adjacency.indptr"], parts["adjacency.indices"] = indptr, indices
        return encode(parts)

    @classmethod
    def from_state(
        cls, data: bytes, config: IdentityConfig | None = None, *, overrides: Iterable[Override] = ()
    ) -> IdentityEngine:
        """An engine in the state `to_state` saved; records are read back through `record_loader` when needed."""
        from canalis.identity.state import decode

        parts = decode(data)
        model = MatchModel.from_dict(parts["model"]) if parts["model"] else None
        engine = cls(config, model=model, overrides=overrides)
        frame = Frame(parts["region"])
        for name in _TEXT_COLUMNS:
            setattr(frame, name, parts[f"frame.{name}"])
        n = len(frame.key)
        frame.ext = parts["frame.ext"] if n else []
        frame.dob = parts["frame.dob"].tolist()
        frame.updated = parts["frame.updated"].tolist()
        frame.record = [None] * n
        engine.frame = frame
        engine.row_of = {key: row for row, key in enumerate(frame.key)}
        engine.alive = parts["alive"].tolist()
        engine.customer = [c or None for c in parts["customer"]] if n else []
        engine.rule = parts["rule"] if n else []
        engine.confidence = parts["confidence"].tolist()
        engine.id_age = {cid: (at, cid) for cid, at in zip(parts["id_age.ids"], parts["id_age.at"].tolist(),
                                                           strict=True)}  # fmt: skip
        engine.aliases = parts["aliases"]
        engine.flags = parts["flags"]
        members: dict[str, list[int]] = {}
        for row, (cid, alive) in enumerate(zip(engine.customer, engine.alive, strict=True)):
            if cid and alive:
                members.setdefault(cid, []).append(row)
        engine.members = members
        engine.block_codes = {kind: parts[f"block.{kind}"] for kind in BLOCK_KINDS if f"block.{kind}" in parts}
        missing = [kind for kind in BLOCK_KINDS if kind not in engine.block_codes]
        if missing:  # a state saved before these blocking keys existed
            engine.block_codes.update(block_codes(engine.frame, missing))
        engine._indexes_stale = True
        engine.adjacency = Adjacency.from_compact(parts["adjacency.indptr"], parts["adjacency.indices"])
        return engine

    def _alive_array(self) -> np.ndarray:
        """`alive` as a numpy array, made once per state of `alive` (it is read many times per update)."""
        cached = self._alive_cache
        if cached is None or cached[0] is not self.alive or cached[1] != self._alive_version:
            cached = (self.alive, self._alive_version, np.fromiter(self.alive, dtype=bool, count=len(self.alive)))
            self._alive_cache = cached
        return cached[2]

    def _ensure_records(self, rows: Iterable[int]) -> None:
        """Read back the records of rows restored from a saved state (golden records need their raw values)."""
        records = self.frame.record
        missing = [self.frame.key[r] for r in rows if records[r] is None]
        if not missing:
            return
        if self.record_loader is None:
            raise RuntimeError("records of a restored engine need a record_loader")
        for key, record in self.record_loader(missing).items():
            records[self.row_of[key]] = record

    def _index_rows(self, rows: list[int]) -> None:
        n = len(self.frame)
        single = [k for k in self.config.deterministic_keys if k != "external_id"]
        for table, kinds in ((self.block_codes, BLOCK_KINDS), (self.key_codes, single)):
            for kind in kinds:
                codes = table.get(kind, np.zeros(0, dtype=np.int64))
                if len(codes) < n:
                    codes = np.concatenate([codes, np.zeros(n - len(codes), dtype=np.int64)])
                table[kind] = codes
        live = [r for r in rows if self.alive[r]]
        sub_codes = block_codes(self.frame.take(live))
        for kind in BLOCK_KINDS:
            index = self.block_index.setdefault(kind, HashIndex())
            for row, code in zip(live, sub_codes[kind].tolist(), strict=True):
                self.block_codes[kind][row] = code
                if code:
                    index.add(code, row)
        for row in rows:
            if not self.alive[row]:
                self._forget(row)
        for kind in self.config.deterministic_keys:
            index = self.key_index.setdefault(kind, HashIndex())
            for row in live:
                values = row_values(self.frame, kind, row)
                if kind == "external_id":
                    self.referenced.update(values[1:])
                else:
                    self.key_codes[kind][row] = hash(values[0]) if values else 0
                for value in values:
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

    def _members_many(
        self, index: HashIndex, current: np.ndarray, codes: np.ndarray, alive: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows currently holding each code: (position of the code, row), and the number of rows per code."""
        query, rows = index.lookup_many(codes)
        ok = alive[rows] & (current[rows] == codes[query])
        query, rows = query[ok], rows[ok]
        if len(rows):
            pair = np.unique(query * len(current) + rows)
            query, rows = pair // len(current), pair % len(current)
        return query, rows, np.bincount(query, minlength=len(codes))

    def _key_count(self, kind: str, value: str, local: int) -> int:
        return len(self._key_members(kind, value))

    def _block_size(self, kind: str, codes: np.ndarray) -> np.ndarray:
        alive = self._alive_array()
        return self._members_many(self.block_index[kind], self.block_codes[kind], codes, alive)[2]

    def _block_codes_of(self, rows: list[int]) -> dict[str, np.ndarray]:
        """The block codes the rows hold now, by kind (0 for rows added since the codes were made)."""
        index = np.asarray(rows, dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for kind in BLOCK_KINDS:
            codes = self.block_codes.get(kind, np.zeros(0, dtype=np.int64))
            found = np.zeros(len(index), dtype=np.int64)
            inside = index < len(codes)
            found[inside] = codes[index[inside]]
            out[kind] = found
        return out

    def _seeds(self, changed: list[int], before: dict, old_blocks: dict[str, np.ndarray]) -> set[int]:
        """Rows whose links may change: the changed rows, key-mates, and block-mates that now score as links."""
        config = self.config
        limits = config.block_limits()
        alive = self._alive_array()
        seeds: set[int] = set(changed)
        changed_arr = np.asarray(changed, dtype=np.int64)
        for kind in config.deterministic_keys:
            if kind == "external_id":
                for row in changed:
                    old = set(before.get(row, {}).get(kind, ()))
                    now = set(row_values(self.frame, kind, row)) if self.alive[row] else set()
                    for value in (old | now) & self.referenced:
                        seeds.update(self._key_members(kind, value))
                continue
            now_codes = self.key_codes[kind][changed_arr]
            delta: dict[int, int] = {}
            for row, code in zip(changed, now_codes.tolist(), strict=True):
                old_values = before.get(row, {}).get(kind, ())
                old_code = hash(old_values[0]) if old_values else 0
                if code != old_code:
                    if code:
                        delta[code] = delta.get(code, 0) + 1
                    if old_code:
                        delta[old_code] = delta.get(old_code, 0) - 1
            codes = np.unique(np.concatenate([now_codes, np.fromiter(delta, dtype=np.int64, count=len(delta))]))
            codes = codes[codes != 0]
            query, rows, counts = self._members_many(self.key_index[kind], self.key_codes[kind], codes, alive)
            was = counts - np.fromiter((delta.get(c, 0) for c in codes.tolist()), dtype=np.int64, count=len(codes))
            wanted = np.minimum(counts, was) <= config.max_records_per_key
            seeds.update(rows[wanted[query]].tolist())
        mates_a: list[np.ndarray] = []
        mates_b: list[np.ndarray] = []
        for kind in BLOCK_KINDS:
            now_codes, old_codes = self.block_codes[kind][changed_arr], old_blocks[kind]
            moved = now_codes != old_codes
            gained, lost = now_codes[moved & (now_codes != 0)], old_codes[moved & (old_codes != 0)]
            codes = np.unique(np.concatenate([now_codes, gained, lost]))
            codes = codes[codes != 0]
            query, rows, counts = self._members_many(self.block_index[kind], self.block_codes[kind], codes, alive)
            # Rows per block before the change: the blocks rows joined counted one less, those they left one more.
            net = np.zeros(len(codes), dtype=np.int64)
            np.add.at(net, np.searchsorted(codes, gained), 1)
            np.add.at(net, np.searchsorted(codes, lost), -1)
            was = counts - net
            limit = limits[kind]
            crossed = (was <= limit) != (counts <= limit)
            seeds.update(rows[crossed[query]].tolist())
            usable = (counts <= limit) & ~crossed
            # Pairs (changed row, mate) within usable blocks of the changed rows' current codes.
            live_changed = changed_arr[alive[changed_arr] & (now_codes != 0)]
            position = np.searchsorted(codes, self.block_codes[kind][live_changed])
            keep = usable[position]
            live_changed, position = live_changed[keep], position[keep]
            order = np.argsort(query, kind="stable")
            sorted_query, sorted_rows = query[order], rows[order]
            lo = np.searchsorted(sorted_query, position, side="left")
            hi = np.searchsorted(sorted_query, position, side="right")
            sizes = hi - lo
            total = int(sizes.sum())
            offsets = np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(total)
            mates_a.append(np.repeat(live_changed, sizes))
            mates_b.append(sorted_rows[offsets] if total else np.zeros(0, dtype=np.int64))
        a = np.concatenate(mates_a) if mates_a else np.zeros(0, dtype=np.int64)
        b = np.concatenate(mates_b) if mates_b else np.zeros(0, dtype=np.int64)
        keep = a != b
        a, b = a[keep], b[keep]
        if len(a) and self.model is not None:
            keys = self.frame.array("key")
            flip = keys[a] > keys[b]
            a, b = np.where(flip, b, a), np.where(flip, a, b)
            pair = np.unique(a * len(keys) + b)
            a, b = pair // len(keys), pair % len(keys)
            everything = np.unique(np.concatenate([a, b]))
            sub = self.frame.take(everything)
            columns = score_columns(sub)
            la, lb = np.searchsorted(everything, a), np.searchsorted(everything, b)
            probability = score(compare(columns, la, lb, config.workers), columns, la, self.model).probability
            hit = probability >= config.match_probability
            seeds.update(a[hit].tolist())
            seeds.update(b[hit].tolist())
        return seeds

    def _closure(self, seeds: set[int]) -> set[int]:
        """Every row connected to the seeds through links, shared keys, steward merges or current clusters."""
        config = self.config
        partners = self.overrides.partners() if self.overrides else {}
        alive = self._alive_array()
        seen = np.zeros(len(self.alive), dtype=bool)
        frontier = np.asarray(sorted(seeds), dtype=np.int64)
        seen[frontier] = True
        single = [k for k in config.deterministic_keys if k != "external_id"]
        while len(frontier):
            found: list[np.ndarray] = [self.adjacency.neighbours_many(frontier)]
            members: list[int] = []
            for cid in {self.customer[r] for r in frontier.tolist()} - {None}:
                members.extend(self.members.get(cid, ()))
            live = frontier[alive[frontier]]
            for kind in single:
                codes = np.unique(self.key_codes[kind][live])
                codes = codes[codes != 0]
                if not len(codes):
                    continue
                query, rows, counts = self._members_many(self.key_index[kind], self.key_codes[kind], codes, alive)
                usable = (counts > 1) & (counts <= config.max_records_per_key)
                found.append(rows[usable[query]])
            if "external_id" in config.deterministic_keys and self.referenced:
                for row in live.tolist():
                    for value in self.frame.ext[row]:
                        if value in self.referenced:
                            group = self._key_members("external_id", value)
                            if 1 < len(group) <= config.max_records_per_key:
                                members.extend(group)
            if partners:
                for row in frontier.tolist():
                    for other in partners.get(self.frame.key[row], ()):
                        if other in self.row_of:
                            members.append(self.row_of[other])
            found.append(np.asarray(members, dtype=np.int64))
            reached = np.unique(np.concatenate(found))
            frontier = reached[~seen[reached]]
            seen[frontier] = True
        return set(np.flatnonzero(seen).tolist())

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
