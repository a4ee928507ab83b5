"""Canonical tables: customers, identities, contact points, consents, interactions, commerce, operations."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
)

from canalis.store.schema import metadata
from canalis.store.types import CalendarDate, JSONDoc, Money, UTCDateTime

# --- Customers and identities -------------------------------------------------------------------

customer_records = Table(
    "customer_records",
    metadata,
    Column("record_key", String(300), primary_key=True, comment="source:object:source_id"),
    Column("source", String(100), nullable=False, comment="connection name, e.g. web_shop"),
    Column("object", String(100), nullable=False, comment="source object or stream, e.g. customers"),
    Column("source_id", String(200), nullable=False),
    Column("given_name", String(200)),
    Column("family_name", String(200)),
    Column("email", String(320), comment="normalised email"),
    Column("phone", String(40), comment="E.164 phone"),
    Column("birth_date", CalendarDate),
    Column("street", String(400)),
    Column("postcode", String(20)),
    Column("city", String(200)),
    Column("region", String(200)),
    Column("country", String(2), comment="ISO 3166-1 alpha-2"),
    Column("loyalty_id", String(100)),
    Column("external_ids", JSONDoc, comment="ids of the same person in other systems, {system: id}"),
    Column("attributes", JSONDoc, comment="source fields kept as they were, for display and survivorship"),
    Column("source_updated_at", UTCDateTime),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    UniqueConstraint("source", "object", "source_id", name="uq_customer_records_source_object_id"),
    comment="One person as a source system holds them, mapped to canonical fields: the input of identity resolution.",
)
Index("ix_customer_records_email", customer_records.c.email)
Index("ix_customer_records_phone", customer_records.c.phone)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True, comment="stable unified id"),
    Column("given_name", String(200)),
    Column("family_name", String(200)),
    Column("email", String(320)),
    Column("phone", String(40)),
    Column("birth_date", CalendarDate),
    Column("street", String(400)),
    Column("postcode", String(20)),
    Column("city", String(200)),
    Column("region", String(200)),
    Column("country", String(2)),
    Column("loyalty_id", String(100)),
    Column("lineage", JSONDoc, comment="per golden field: the source record and rule it came from"),
    Column("record_count", Integer, nullable=False, default=1),
    Column("sources", JSONDoc, comment="sorted list of sources holding this customer"),
    Column("flags", JSONDoc, comment="quality flags, e.g. oversized cluster"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    comment="The golden record: one unified profile per person.",
)

source_identities = Table(
    "source_identities",
    metadata,
    Column("record_key", String(300), primary_key=True),
    Column("source", String(100), nullable=False),
    Column("object", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("match_rule", String(100), nullable=False, comment="rule that attached the record, e.g. email"),
    Column("confidence", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    comment="Which unified customer each source record belongs to, and why.",
)
Index("ix_source_identities_customer", source_identities.c.customer_id)

contact_points = Table(
    "contact_points",
    metadata,
    Column(
        "contact_point_key",
        String(400),
        primary_key=True,
        comment="record_key|kind|hash of the value: a record's contact points sit together in the key's index",
    ),
    Column("record_key", String(300), nullable=False),
    Column("kind", String(20), nullable=False, comment="email, phone or postal"),
    Column("value", String(600), nullable=False, comment="normalised value"),
    Column("raw_value", String(600)),
    Column("is_valid", Boolean, nullable=False, default=True),
    Column("updated_at", UTCDateTime, nullable=False),
    comment="Emails, phones and postal addresses of source records; replaced whenever the record changes.",
)
Index("ix_contact_points_value", contact_points.c.kind, contact_points.c.value)
Index("ix_contact_points_record", contact_points.c.record_key)

consents = Table(
    "consents",
    metadata,
    Column("consent_key", String(400), primary_key=True, comment="record_key:purpose:channel"),
    Column("record_key", String(300), nullable=False),
    Column("source", String(100), nullable=False),
    Column("purpose", String(50), nullable=False, comment="e.g. marketing, service"),
    Column("channel", String(30), nullable=False, comment="email, sms, phone, post"),
    Column("status", String(20), nullable=False, comment="granted, denied or unknown"),
    Column("recorded_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_consents_record", consents.c.record_key)

# --- Interactions and commerce ------------------------------------------------------------------

interactions = Table(
    "interactions",
    metadata,
    Column("interaction_key", String(300), primary_key=True, comment="source:object:source_id"),
    Column("source", String(100), nullable=False),
    Column("object", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("customer_record_key", String(300), comment="the source's own customer record"),
    Column("customer_email", String(320), comment="contact point when the source has no customer id"),
    Column("customer_id", String(64), comment="unified customer, filled by identity resolution"),
    Column("channel", String(30), nullable=False, comment="web, store, crm, email, phone, marketing"),
    Column("kind", String(30), nullable=False, comment="order, case, ticket, email, call, campaign_event"),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("status", String(50)),
    Column("subject", String(500)),
    Column("amount", Money),
    Column("currency", String(3)),
    Column("satisfaction_score", Float),
    Column("is_complaint", Boolean, nullable=False, default=False),
    Column("thread_key", String(300), comment="groups interactions about the same case or order"),
    Column("attributes", JSONDoc),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_interactions_customer", interactions.c.customer_id, interactions.c.occurred_at)
Index("ix_interactions_record", interactions.c.customer_record_key)

timeline_customers = Table(
    "timeline_customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("interactions", Integer, nullable=False, comment="interactions attached to the customer"),
    Column("channels", Integer, nullable=False, comment="distinct channels of those interactions"),
    Column("switches", Integer, nullable=False, comment="changes of channel along the customer's timeline"),
    comment=(
        "The timeline's figures per customer (no personal values): a pass works them out again for the customers "
        "it touches, and the timeline report sums them."
    ),
)

orders = Table(
    "orders",
    metadata,
    Column("order_key", String(300), primary_key=True),
    Column("source", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("customer_record_key", String(300)),
    Column("channel", String(30), nullable=False),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("status", String(50)),
    Column("total_amount", Money),
    Column("currency", String(3)),
    Column("location", String(200)),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_line_key", String(400), primary_key=True),
    Column("order_key", String(300), nullable=False),
    Column("sku", String(100)),
    Column("quantity", Money, nullable=False),
    Column("unit_price", Money),
    Column("currency", String(3)),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_order_lines_order", order_lines.c.order_key)

products = Table(
    "products",
    metadata,
    Column("product_key", String(300), primary_key=True, comment="source:sku"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("name", String(400)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("attributes", JSONDoc),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_products_sku", products.c.sku)

prices = Table(
    "prices",
    metadata,
    Column("price_key", String(400), primary_key=True, comment="source:sku:price_list"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(200)),
    Column("sku", String(100), nullable=False),
    Column("price_list", String(100), nullable=False, comment="channel or price list name"),
    Column("amount", Money, nullable=False),
    Column("compare_at_amount", Money),
    Column("currency", String(3), nullable=False),
    Column("tax_included", Boolean, nullable=False, default=True),
    Column("valid_from", UTCDateTime),
    Column("valid_to", UTCDateTime),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_prices_sku", prices.c.sku)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("stock_key", String(400), primary_key=True, comment="source:sku:location"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(200)),
    Column("sku", String(100), nullable=False),
    Column("location", String(200), nullable=False),
    Column("on_hand", Money, nullable=False),
    Column("reserved", Money, nullable=False, default=0),
    Column("available", Money, nullable=False),
    Column("observed_at", UTCDateTime),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_stock_levels_sku", stock_levels.c.sku)

promotions = Table(
    "promotions",
    metadata,
    Column("promotion_key", String(400), primary_key=True, comment="source:code"),
    Column("source", String(100), nullable=False),
    Column("source_id", String(200)),
    Column("code", String(100), nullable=False),
    Column("name", String(400)),
    Column("scope", String(50), comment="order, product or collection"),
    Column("discount_type", String(20), nullable=False, comment="percentage or fixed_amount"),
    Column("discount_value", Money, nullable=False),
    Column("currency", String(3)),
    Column("channels", JSONDoc, comment="channels the promotion is meant for"),
    Column("starts_at", UTCDateTime),
    Column("ends_at", UTCDateTime),
    Column("status", String(20), nullable=False, comment="active, scheduled, expired or disabled"),
    Column("loaded_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
)
Index("ix_promotions_code", promotions.c.code)

# --- Operations: raw landing, quarantine, sync state, audit ---------------------------------------

raw_records = Table(
    "raw_records",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("batch_id", Integer, nullable=False, comment="load batch that last changed this record"),
    Column("cursor_value", String(100)),
    Column("payload", JSONDoc, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    comment="Latest version of every record read from a source, as the source sent it.",
)
# The canonical pass reads a stream in (batch_id, record_id) order from where it stopped: this index gives that
# order without sorting.
Index(
    "ix_raw_records_position",
    raw_records.c.source,
    raw_records.c.stream,
    raw_records.c.batch_id,
    raw_records.c.record_id,
)

load_batches = Table(
    "load_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("run_id", String(64)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("records", Integer, nullable=False, default=0),
    Column("finished_at", UTCDateTime, comment="set when the read that wrote the batch ended, well or not"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_key", String(500), primary_key=True, comment="source:stream:stage:record"),
    Column("source", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("stage", String(30), nullable=False, comment="read, validate, map or write"),
    Column("record_id", String(300)),
    Column("payload", JSONDoc),
    Column("error", Text, nullable=False),
    Column("field", String(200)),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("resolved_at", UTCDateTime, comment="set when a later version of the record succeeded"),
    Column("dismissed_at", UTCDateTime, comment="set when a person dismissed the entry (it is no longer retried)"),
    Column("window_cursor", String(100), comment="stream cursor a re-read starts from to find the record again"),
)
Index("ix_quarantine_source", quarantine.c.source, quarantine.c.stream)

READ_STAGES = ("read", "validate")
"""Quarantine stages of records rejected before they landed: retried by re-reading them from their source."""


def quarantine_open() -> ColumnElement[bool]:
    """Entries neither resolved (their record went through) nor dismissed by a person."""
    return and_(quarantine.c.resolved_at.is_(None), quarantine.c.dismissed_at.is_(None))


sync_state = Table(
    "sync_state",
    metadata,
    Column("connector", String(100), primary_key=True, comment="connection name, or a pipeline step"),
    Column("stream", String(100), primary_key=True),
    Column("cursor", JSONDoc, comment="typed cursor state of the stream"),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("run_id", String(64)),
    Column(
        "version",
        Integer,
        nullable=False,
        default=1,
        server_default="1",
        comment="bumped by every save: a read saves only its own",
    ),
)

write_audit = Table(
    "write_audit",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("channel", String(100), nullable=False),
    Column("entity_type", String(50), nullable=False),
    Column("entity_key", String(300), nullable=False),
    Column("field", String(100)),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("status", String(20), nullable=False, comment="planned, applied, failed, skipped, verified"),
    Column("idempotency_key", String(200)),
    Column("vendor_response_id", String(200)),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_write_audit_run", write_audit.c.run_id)
Index("ix_write_audit_entity", write_audit.c.channel, write_audit.c.entity_type, write_audit.c.entity_key)

source_deletions = Table(
    "source_deletions",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("kind", String(20), nullable=False, comment="deleted, archived or missing (absent from a full listing)"),
    Column("payload", JSONDoc, comment="the record's last version, kept until the canonical pass removed its rows"),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime, comment="set when the canonical rows the record fed were removed"),
    Column("run_id", String(64)),
    comment="Tombstones: records a source deleted or archived; they no longer feed the canonical tables.",
)
