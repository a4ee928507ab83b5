"""Turn a batch's clusters into the outcome of a run: stable ids, per-record assignments, golden records."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from mappings.identity.clusters import RULES, IdEvent, assign_ids
from mappings.identity.config import IdentityConfig
from mappings.identity.resolver import BatchResult
from mappings.identity.survivorship import GoldenRecord, GoldenTable, golden_records


@dataclass
class Assignment:
    """Which customer a record belongs to and the rule that attached it."""

    record_key: str
    customer_id: str
    match_rule: str
    confidence: float


@dataclass
class Outcome:
    """Clusters of a batch with their ids, assignments, golden records and flags."""

    clusters: list[list[int]]
    ids: list[str]
    events: list[IdEvent]
    assignments: list[Assignment]
    golden: GoldenTable | list[GoldenRecord]
    flags: list[list[str]]

    def flagged(self) -> list[dict]:
        """Clusters with quality flags, largest first."""
        out = [
            {"customer_id": cid, "size": len(rows), "flags": flags}
            for cid, rows, flags in zip(self.ids, self.clusters, self.flags, strict=True)
            if flags
        ]
        return sorted(out, key=lambda f: (-f["size"], f["customer_id"]))


def conclude(
    batch: BatchResult,
    previous: dict[str, str],
    age: dict[str, tuple],
    taken: Container[str],
    config: IdentityConfig,
    *,
    golden: bool = True,
) -> Outcome:
    """Assign stable ids to the batch's clusters and build their golden records."""
    frame = batch.frame
    clusters = batch.clusters()
    ids, events = assign_ids([[frame.key[r] for r in rows] for rows in clusters], previous, age, taken)
    clustering = batch.clustering
    attach = clustering.attach
    edge_rule, edge_score = batch.edges.rule, batch.edges.score
    assignments: list[Assignment] = []
    flags: list[list[str]] = []
    for cid, rows in zip(ids, clusters, strict=True):
        flags.append(sorted(clustering.flags.get(int(clustering.labels[rows[0]]), ())))
        for row in rows:
            e = attach[row]
            if len(rows) == 1 or e < 0:
                assignments.append(Assignment(frame.key[row], cid, "singleton", 1.0))
            else:
                assignments.append(
                    Assignment(frame.key[row], cid, RULES[int(edge_rule[e])], round(float(edge_score[e]), 6))
                )
    records = golden_records(frame, clusters, ids, config, flags) if golden else []
    return Outcome(clusters, ids, events, assignments, records, flags)
