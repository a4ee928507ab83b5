"""The whole sync without Dagster: every stream ingested, every entity mapped, customers unified, timeline built.

Jobs run the same steps as assets; this function is for scripts, benchmarks and tests that want one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.connections import CanalisConfig, build_connector
from assets.factory import build_mappers, canonical_feeds, streams_of
from assets.pipeline.canonicalize import CanonicalReport, canonicalize_entities
from assets.pipeline.ingest import IngestReport, ingest_stream
from assets.pipeline.timeline import TimelineReport, attach_interactions
from assets.pipeline.unify import unify_customers
from connectors.sdk.registry import discover
from mappings.identity import ResolutionReport
from mappings.store import Store


@dataclass
class SyncReport:
    """What a whole sync did, step by step."""

    ingest: list[IngestReport] = field(default_factory=list)
    canonical: dict[str, CanonicalReport] = field(default_factory=dict)
    identity: ResolutionReport | None = None
    timeline: TimelineReport | None = None


def sync_all(store: Store, config: CanalisConfig, *, full: bool = False, run_id: str | None = None) -> SyncReport:
    """Run every step of a sync for the configured connections, in order."""
    registry = discover()
    report = SyncReport()
    for name, connection in config.enabled_connections().items():
        connector = build_connector(name, connection, registry)
        for stream in streams_of(connection, registry[connection.connector]):
            report.ingest.append(ingest_stream(store, connector, stream, full_refresh=full, run_id=run_id))
        close = getattr(connector, "close", None)
        if callable(close):
            close()
    mappers = build_mappers(config, registry)
    feeds = canonical_feeds(config, registry, mappers)
    report.canonical = canonicalize_entities(store, mappers, list(feeds), full=full, run_id=run_id)
    if "customer_record" in feeds:
        report.identity = unify_customers(store, config.identity, full=full)
        report.timeline = attach_interactions(store)
    return report
