"""Tables of identity resolution: what was resolved, key and block indexes, links with evidence, ids, overrides."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from canalis.store.schema import metadata
from canalis.store.types import JSONDoc, UTCDateTime

identity_records = Table(
    "identity_records",
    metadata,
    Column("record_key", String(300), primary_key=True),
    Column("content_hash", String(64), nullable=False, comment="content_hash of customer_records when resolved"),
    Column("resolved_at", UTCDateTime, nullable=False),
    comment="The version of each customer record that identity resolution last saw.",
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("link_id", Integer, primary_key=True, autoincrement=True),
    Column("record_a", String(300), nullable=False, comment="the smaller record key"),
    Column("record_b", String(300), nullable=False),
    Column(
        "rule",
        String(40),
        nullable=False,
        comment="steward_merge, external_id, loyalty_id, email, phone, probabilistic",
    ),
    Column("confidence", Float, nullable=False, comment="1.0 for keys and stewards, the match probability otherwise"),
    Column("status", String(20), nullable=False, comment="accepted (one customer) or refused by a guard"),
    Column("reason", String(60), comment="the guard that refused the link"),
    Column(
        "evidence",
        JSONDoc,
        comment="scored links: probability, match weight and per-field levels; none for key and steward links "
        "(explain rebuilds the key group)",
    ),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("record_a", "record_b", "rule", name="uq_identity_links_pair_rule"),
    comment="Every link identity resolution considered between two records, and why.",
)
# Lookups by record_a use the unique constraint (its leading column); record_b has its own index.
Index("ix_identity_links_record_b", identity_links.c.record_b)

identity_customer_ids = Table(
    "identity_customer_ids",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False, comment="active, merged or retired"),
    Column("merged_into", String(64), comment="for a merged id: the id that survived (an alias)"),
    Column("created_at", UTCDateTime, nullable=False, comment="age decides which id survives a merge"),
    Column("updated_at", UTCDateTime, nullable=False),
    comment="Every customer id ever issued; merged ids stay as aliases of the survivor.",
)
Index("ix_identity_customer_ids_merged_into", identity_customer_ids.c.merged_into)

identity_id_events = Table(
    "identity_id_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer),
    Column("kind", String(20), nullable=False, comment="new, merged, split or retired"),
    Column("customer_id", String(64), nullable=False),
    Column("other_id", String(64), comment="merged: the survivor; split: the id it came from"),
    Column("at", UTCDateTime, nullable=False),
    comment="History of customer ids: creations, merges, splits and retirements.",
)
Index("ix_identity_id_events_customer", identity_id_events.c.customer_id)

identity_overrides = Table(
    "identity_overrides",
    metadata,
    Column("override_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False, comment="force_merge or never_merge"),
    Column("record_a", String(300), nullable=False),
    Column("record_b", String(300), nullable=False),
    Column("active", Boolean, nullable=False, default=True, comment="false when the decision was withdrawn"),
    Column("who", String(200), nullable=False),
    Column("why", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    comment="Steward decisions, append-only: the latest per pair is in force; the rows are the audit trail.",
)
Index("ix_identity_overrides_record_a", identity_overrides.c.record_a)
Index("ix_identity_overrides_record_b", identity_overrides.c.record_b)

identity_models = Table(
    "identity_models",
    metadata,
    Column("model_id", Integer, primary_key=True, autoincrement=True),
    Column("trained_at", UTCDateTime, nullable=False),
    Column("records", Integer, nullable=False),
    Column("parameters", JSONDoc, nullable=False, comment="m and u probabilities, prior, name frequencies"),
    comment="Match models learned by full resolutions; incremental runs use the latest.",
)

identity_runs = Table(
    "identity_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("mode", String(20), nullable=False, comment="full, incremental or override"),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("report", JSONDoc),
    comment="Resolution runs and their reports.",
)

identity_proposed_merges = Table(
    "identity_proposed_merges",
    metadata,
    Column("proposal_id", Integer, primary_key=True, autoincrement=True),
    Column("record_a", String(300), nullable=False, comment="the smaller record key"),
    Column("record_b", String(300), nullable=False),
    Column("reason", String(40), nullable=False, comment="uncertain, large_profiles or weak_bridge"),
    Column("probability", Float, nullable=False, comment="match probability of the pair"),
    Column("customer_a", String(64), comment="customer of record_a when proposed"),
    Column("customer_b", String(64), comment="customer of record_b when proposed"),
    Column("status", String(20), nullable=False, comment="pending, accepted or rejected"),
    Column("evidence", JSONDoc, comment="per-field levels, similarities and weights"),
    Column("proposed_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", String(200), comment="the steward, or `policy` for an automatic decision"),
    Column("note", Text, comment="why the steward decided so"),
    UniqueConstraint("record_a", "record_b", name="uq_identity_proposed_merges_pair"),
    comment="Merges identity resolution did not apply on its own: uncertain scores, two large profiles, weak "
    "bridges. Accepting records a force_merge, rejecting a never_merge, so that decisions survive rebuilds.",
)
Index("ix_identity_proposed_merges_status", identity_proposed_merges.c.status)

identity_state = Table(
    "identity_state",
    metadata,
    Column("name", String(100), primary_key=True, comment="the part of the state (#header for the header)"),
    Column(
        "piece",
        Integer,
        primary_key=True,
        autoincrement=False,
        comment="pieces of a part in order: 32,768 records' values, at most 16 MiB",
    ),
    Column("digest", String(32), nullable=False, comment="BLAKE2b of data: a run rewrites the pieces that changed"),
    Column("run_id", Integer, comment="the run that wrote the piece"),
    Column("data", LargeBinary(length=2**32 - 1), nullable=False, comment="LONGBLOB on MySQL"),
    comment="The engine's resolved state after the last run (features, block codes, assignments, link graph, "
    "ids, model), from which incremental runs start; see canalis.identity.state.",
)
