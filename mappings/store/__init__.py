"""The canonical store: schema, column types, upserts, migrations."""

from mappings.store.store import QuarantinedRecord, Store, utcnow
from mappings.store.upsert import UpsertCounts, upsert

__all__ = ["QuarantinedRecord", "Store", "UpsertCounts", "upsert", "utcnow"]
