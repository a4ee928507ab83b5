"""The whole sync without Dagster: every stream ingested, every entity mapped, customers unified, timeline built.

Jobs run the same steps as assets; this function is for scripts, benchmarks and tests that want one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canalis.canonical.canonicalize import CanonicalReport, canonicalize_entities
from canalis.config.connections import CanalisConfig
from canalis.config.wiring import build_connector, build_mappers, canonical_feeds, streams_of
from canalis.connectors.registry import discover
from canalis.identity import ResolutionReport
from canalis.identity.persistence import resolve_customers
from canalis.ingest.replay import ReplayReport, heal_after_read
from canalis.ingest.stream import IngestReport, ingest_stream
from canalis.store import Store
from canalis.timeline import TimelineReport, attach_interactions


@dataclass
class SyncReport:
    """What a whole sync did, step by step."""

    ingest: list[IngestReport] = field(default_factory=list)
    replay: list[ReplayReport] = field(default_factory=list)
    canonical: dict[str, CanonicalReport] = field(default_factory=dict)
    identity: ResolutionReport | None = None
    timeline: TimelineReport | None = None


def sync_all(store: Store, config: CanalisConfig, *, full: bool = False, run_id: str | None = None) -> SyncReport:
    """Run every step of a sync for the configured connections, in order."""
    registry = discover()
    report = SyncReport()
    for name, connection in config.enabled_connections().items():
        with build_connector(name, connection, registry) as connector:
            for stream in streams_of(connection, registry[connection.connector]):
                report.ingest.append(ingest_stream(store, connector, stream, full_refresh=full, run_id=run_id))
                healed = heal_after_read(
                    store, connector, stream, settings=connection.replay, full_refresh=full, run_id=run_id
                )
                if healed is not None:
                    report.replay.append(healed)
    mappers = build_mappers(config, registry)
    feeds = canonical_feeds(config, registry, mappers)
    report.canonical = canonicalize_entities(store, mappers, list(feeds), full=full, run_id=run_id)
    if "customer_record" in feeds:
        with store.lock("identity"):
            report.identity = resolve_customers(store.engine, config=config.identity, full=full)
        report.timeline = attach_interactions(store, full=full)
    return report
