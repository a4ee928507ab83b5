"""Reading unified customers for the customer rules: each customer's source records, consents and open cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from canalis.mappings.normalize import email_key, fold_name, phone_key
from canalis.store import tables

if TYPE_CHECKING:
    from canalis.consistency.scope import CustomerScope


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One source record of a unified customer, as the customer rules compare it, with its matching keys.

    The keys (normalised phone and email, folded name tokens) are worked out once per record when the records are
    read, since several rules compare each record with many others.
    """

    record_key: str
    source: str
    source_id: str
    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    birth_date: Any
    street: str | None
    postcode: str | None
    city: str | None
    country: str | None
    source_updated_at: Any
    loaded_at: Any
    phone_key: str | None = None
    email_key: str | None = None
    name_tokens: frozenset[str] = frozenset()
    family_tokens: tuple[str, ...] = ()


def records_by_customer(conn: Connection, scope: CustomerScope | None = None) -> dict[str, list[SourceRecord]]:
    """Every unified customer's source records (those of the scope's customers only), in record-key order."""
    r, s = tables.customer_records, tables.source_identities
    query = (
        select(
            s.c.customer_id,
            r.c.record_key,
            r.c.source,
            r.c.source_id,
            r.c.given_name,
            r.c.family_name,
            r.c.email,
            r.c.phone,
            r.c.birth_date,
            r.c.street,
            r.c.postcode,
            r.c.city,
            r.c.country,
            r.c.source_updated_at,
            r.c.loaded_at,
        )
        .join(s, s.c.record_key == r.c.record_key)
        .order_by(s.c.customer_id, r.c.record_key)
    )
    if scope is not None:
        query = query.where(scope.customer_filter(s.c.customer_id))
    grouped: dict[str, list[SourceRecord]] = defaultdict(list)
    for customer_id, *values in conn.execute(query).tuples():
        grouped[customer_id].append(with_keys(*values))
    return dict(grouped)


def with_keys(*values: Any) -> SourceRecord:
    """A source record from its columns (in SourceRecord's order), its matching keys worked out."""
    record = SourceRecord(*values)
    given, family = fold_name(record.given_name).split(), fold_name(record.family_name).split()
    return replace(
        record,
        phone_key=phone_key(record.phone, record.country or "FR")[0] if record.phone else None,
        email_key=email_key(record.email),
        name_tokens=frozenset(given) | frozenset(family),
        family_tokens=tuple(family),
    )


def consents_by_customer(
    conn: Connection, purpose: str, channel: str, scope: CustomerScope | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Consent rows for one purpose and channel, grouped by unified customer (of the scope only, if given)."""
    c, s = tables.consents, tables.source_identities
    query = (
        select(s.c.customer_id, c.c.record_key, c.c.source, c.c.status, c.c.recorded_at)
        .join(s, s.c.record_key == c.c.record_key)
        .where(c.c.purpose == purpose, c.c.channel == channel)
        .order_by(s.c.customer_id, c.c.record_key)
    )
    if scope is not None:
        query = query.where(scope.customer_filter(s.c.customer_id))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for customer_id, record_key, source, status, recorded_at in conn.execute(query).tuples():
        grouped[customer_id].append(
            {"record_key": record_key, "source": source, "status": status, "recorded_at": recorded_at}
        )
    return dict(grouped)


def open_complaints_by_customer(
    conn: Connection, closed_statuses: Iterable[str], scope: CustomerScope | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Complaints whose status is not a closed one, grouped by unified customer (of the scope only, if given)."""
    i, s = tables.interactions, tables.source_identities
    closed = sorted({status.lower() for status in closed_statuses})
    customer = func.coalesce(i.c.customer_id, s.c.customer_id).label("customer")
    query = (
        select(customer, i.c.interaction_key, i.c.source, i.c.source_id, i.c.status, i.c.subject, i.c.occurred_at)
        .select_from(i.outerjoin(s, s.c.record_key == i.c.customer_record_key))
        .where(i.c.is_complaint.is_(True))
        .where(func.lower(func.coalesce(i.c.status, "")).not_in(closed))
        .order_by(i.c.interaction_key)
    )
    if scope is not None:
        query = query.where(scope.customer_filter(func.coalesce(i.c.customer_id, s.c.customer_id)))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(query):
        values = dict(row._mapping)
        key = values.pop("customer")
        if key is not None:
            grouped[key].append(values)
    return dict(grouped)
