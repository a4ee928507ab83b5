"""The canonical store: schema, column types, upserts, migrations."""

from canalis.store.store import QuarantinedRecord, StaleStateError, Store, utcnow
from canalis.store.upsert import UpsertCounts, upsert

__all__ = ["QuarantinedRecord", "StaleStateError", "Store", "UpsertCounts", "upsert", "utcnow"]
