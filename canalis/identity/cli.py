"""Offline resolution of a JSONL file: one input record per line in, one customer assignment per line out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from canalis.collector import collector_paused
from canalis.identity.clusters import ACCEPTED, RULES
from canalis.identity.config import IdentityConfig
from canalis.identity.engine import IdentityEngine, Resolution
from canalis.identity.records import IdentityRecord

MAX_REPORTED_ERRORS = 100


def read_jsonl(path: Path) -> Iterator[tuple[int, IdentityRecord | None, str | None]]:
    """(line number, record or None, error or None) for every non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                yield number, None, f"invalid JSON: {error.msg}"
                continue
            if not isinstance(data, dict):
                yield number, None, "a line must be a JSON object"
                continue
            try:
                yield number, IdentityRecord.from_mapping(data), None
            except (ValueError, TypeError) as error:
                yield number, None, str(error)


def _evidence(resolution: Resolution) -> dict[str, list[dict[str, Any]]]:
    """The links that hold each record in its customer, with their evidence, by record key."""
    batch = resolution.batch
    out: dict[str, list[dict[str, Any]]] = {}
    if batch is None:
        return out
    keys = batch.frame.key
    status = batch.clustering.status
    for e in np.flatnonzero(status == ACCEPTED).tolist():
        a, b = keys[int(batch.edges.a[e])], keys[int(batch.edges.b[e])]
        evidence = batch.edge_evidence(e)
        entry = {"score": round(float(batch.edges.score[e]), 6), **evidence}
        out.setdefault(a, []).append({"matched_with": b, **entry})
        out.setdefault(b, []).append({"matched_with": a, **entry})
    return out


def run_resolve(
    input_path: Path, output_path: Path, *, explain: bool = False, config: IdentityConfig | None = None
) -> dict:
    """Resolve the records of a JSONL file and write one line per record with its customer_id.

    Input lines hold `source`, `source_id` and any of the person fields; unknown keys are ignored and
    malformed lines are reported by line number. With `explain`, each output line also carries the rule,
    the confidence and the links (matched record, rule, score, field comparisons) that attach it.
    Returns summary counts.
    """
    started = time.perf_counter()
    records: dict[str, IdentityRecord] = {}
    errors: list[dict[str, Any]] = []
    malformed = duplicates = 0
    with collector_paused():  # hundreds of thousands of records and no reference cycle: the collector would only scan
        for number, record, error in read_jsonl(Path(input_path)):
            if record is None:
                malformed += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append({"line": number, "error": error})
                continue
            key = record.key
            if key in records:
                duplicates += 1
            records[key] = record
    engine = IdentityEngine(config or IdentityConfig())
    resolution = engine.resolve(records.values(), golden=False)  # assignments only: no golden record is written
    evidence = _evidence(resolution) if explain else {}
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with output_path.open("wb") as handle:
        for key, record in records.items():
            row = engine.row_of[key]
            line: dict[str, Any] = {
                "source": record.source,
                "source_id": record.source_id,
                "customer_id": engine.customer[row],
            }
            if record.object:
                line["object"] = record.object
            if explain:
                line["match_rule"] = engine.rule[row]
                line["confidence"] = engine.confidence[row]
                line["links"] = evidence.get(key, [])
            handle.write(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE))
    report = resolution.report
    return {
        "records": len(records),
        "customers": report.customers_total,
        "malformed_lines": malformed,
        "duplicate_records": duplicates,
        "errors": errors,
        "links_by_rule": report.links_by_rule,
        "refused_links": report.refused_links,
        "proposed_merges": report.proposed_merges,
        "register_sources": report.register_sources,
        "one_to_one_links": report.one_to_one_links,
        "flagged_clusters": len(report.flagged_clusters),
        "largest_cluster": report.largest_cluster,
        "singleton_share": report.singleton_share,
        "output": str(output_path),
        "duration_seconds": round(time.perf_counter() - started, 3),
    }


__all__ = ["RULES", "read_jsonl", "run_resolve"]
