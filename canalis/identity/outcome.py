"""Turn a batch's clusters into the outcome of a run: stable ids, per-record assignments, golden records."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

import numpy as np

from canalis.identity.clusters import RULES, IdEvent, assign_ids
from canalis.identity.config import IdentityConfig
from canalis.identity.resolver import BatchResult
from canalis.identity.survivorship import GoldenRecord, GoldenTable, golden_records


@dataclass
class Assignment:
    """Which customer a record belongs to and the rule that attached it."""

    record_key: str
    customer_id: str
    match_rule: str
    confidence: float


@dataclass
class Outcome:
    """Clusters of a batch with their ids, per-record assignments, golden records and flags.

    Assignments are held column by column: `rows` lists the frame rows cluster after cluster, with the index
    of the rule that attached each one (-1: alone) and its confidence.
    """

    frame_keys: list[str]
    clusters: list[list[int]]
    ids: list[str]
    events: list[IdEvent]
    rows: np.ndarray
    cluster_index: np.ndarray
    rule_index: np.ndarray
    confidence: np.ndarray
    golden: GoldenTable | list[GoldenRecord]
    flags: list[list[str]]

    @property
    def assignments(self) -> list[Assignment]:
        """One Assignment per record."""
        keys, ids = self.frame_keys, self.ids
        return [
            Assignment(keys[row], ids[c], RULES[r] if r >= 0 else "singleton", round(conf, 6))
            for row, c, r, conf in zip(
                self.rows.tolist(),
                self.cluster_index.tolist(),
                self.rule_index.tolist(),
                self.confidence.tolist(),
                strict=True,
            )
        ]

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
    keys = frame.key
    ids, events = assign_ids([[keys[r] for r in rows] for rows in clusters], previous, age, taken)
    clustering = batch.clustering
    sizes = np.fromiter((len(rows) for rows in clusters), dtype=np.int64, count=len(clusters))
    rows = (
        np.fromiter((r for members in clusters for r in members), dtype=np.int64, count=int(sizes.sum()))
        if len(clusters)
        else np.zeros(0, dtype=np.int64)
    )
    cluster_index = np.repeat(np.arange(len(clusters)), sizes)
    attach = np.asarray(clustering.attach, dtype=np.int64)[rows] if len(rows) else np.zeros(0, dtype=np.int64)
    linked = (attach >= 0) & (np.repeat(sizes, sizes) > 1)
    safe = np.where(linked, attach, 0)
    if len(batch.edges):
        rule_index = np.where(linked, batch.edges.rule[safe], -1).astype(np.int64)
        confidence = np.where(linked, batch.edges.score[safe], 1.0)
    else:
        rule_index = np.full(len(rows), -1, dtype=np.int64)
        confidence = np.ones(len(rows))
    confidence = np.round(confidence, 6)
    labels = clustering.labels
    flags = [
        sorted(clustering.flags[label]) if label in clustering.flags else []
        for label in (labels[members[0]] for members in clusters)
    ] if clustering.flags else [[] for _ in clusters]  # fmt: skip
    records = golden_records(frame, clusters, ids, config, flags) if golden else []
    return Outcome(keys, clusters, ids, events, rows, cluster_index, rule_index, confidence, records, flags)
