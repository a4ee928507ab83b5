"""Reading unified customers for the customer rules: each customer's source records, consents and open cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, union
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


def records_by_customer(
    conn: Connection, scope: CustomerScope | None = None, *, comparable_only: bool = False
) -> dict[str, list[SourceRecord]]:
    """Every unified customer's source records (those of the scope's customers only), in record-key order.

    With `comparable_only`, only customers that some customer rule can compare: those with several records, and
    those holding a phone or an email that another customer holds too (found with GROUP BY in the database). A
    customer with one record and its own phone and email can conflict with nobody, and most customers of a single
    source are such customers. Stored phones and emails are normalised (emails are compared without case here), so
    records whose keys are equal hold equal values.
    """
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
    if comparable_only:
        query = query.where(s.c.customer_id.in_(comparable_customers()))
    keys = RecordKeys()
    grouped: dict[str, list[SourceRecord]] = defaultdict(list)
    for customer_id, *values in conn.execute(query):
        grouped[customer_id].append(keys.record(*values))
    return dict(grouped)


def comparable_customers() -> Select:
    """Customers with several source records, or holding a phone or an email held by another customer too."""
    r, s = tables.customer_records, tables.source_identities
    several = select(s.c.customer_id).group_by(s.c.customer_id).having(func.count() > 1)
    branches = [several]
    for column in (r.c.phone, func.lower(r.c.email)):
        held = (
            select(column)
            .join(s, s.c.record_key == r.c.record_key)
            .where(column.is_not(None))
            .group_by(column)
            .having(func.count(s.c.customer_id.distinct()) > 1)
        )
        branches.append(select(s.c.customer_id).join(r, r.c.record_key == s.c.record_key).where(column.in_(held)))
    return union(*branches)


class RecordKeys:
    """Works out records' matching keys once per distinct value: names, phones and emails repeat across records."""

    def __init__(self) -> None:
        self._phones: dict[tuple[str, str], str | None] = {}
        self._emails: dict[str, str | None] = {}
        self._names: dict[str | None, list[str]] = {}

    def phone(self, raw: str, country: str) -> str | None:
        known = self._phones.get((raw, country), self)
        if known is self:
            known = self._phones[(raw, country)] = phone_key(raw, country)[0]
        return known  # type: ignore[return-value]

    def email(self, raw: str | None) -> str | None:
        if not raw:
            return None
        known = self._emails.get(raw, self)
        if known is self:
            known = self._emails[raw] = email_key(raw)
        return known  # type: ignore[return-value]

    def name(self, raw: str | None) -> list[str]:
        known = self._names.get(raw)
        if known is None:
            known = self._names[raw] = fold_name(raw).split()
        return known

    def record(self, *values: Any) -> SourceRecord:
        """A source record from its columns (in SourceRecord's order), its matching keys worked out."""
        given_name, family_name, email, phone, country = values[3], values[4], values[5], values[6], values[11]
        given, family = self.name(given_name), self.name(family_name)
        return SourceRecord(
            *values,
            phone_key=self.phone(phone, country or "FR") if phone else None,
            email_key=self.email(email),
            name_tokens=frozenset(given) | frozenset(family),
            family_tokens=tuple(family),
        )


def consents_by_customer(
    conn: Connection,
    purpose: str,
    channel: str,
    scope: CustomerScope | None = None,
    *,
    customers: Select | None = None,
    mixed_only: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Consent rows for one purpose and channel, grouped by unified customer (of the scope only, if given).

    `customers` (a select of customer ids) keeps only those customers; with `mixed_only`, only customers holding
    both a granted and a denied consent are read (found with GROUP BY in the database): with a single source, most
    customers hold one consent and can conflict with nothing.
    """
    c, s = tables.consents, tables.source_identities
    query = (
        select(s.c.customer_id, c.c.record_key, c.c.source, c.c.status)
        .join(s, s.c.record_key == c.c.record_key)
        .where(c.c.purpose == purpose, c.c.channel == channel)
        .order_by(s.c.customer_id, c.c.record_key)
    )
    if scope is not None:
        query = query.where(scope.customer_filter(s.c.customer_id))
    if customers is not None:
        query = query.where(s.c.customer_id.in_(customers))
    if mixed_only:
        both = (
            select(s.c.customer_id)
            .join(c, s.c.record_key == c.c.record_key)
            .where(c.c.purpose == purpose, c.c.channel == channel, c.c.status.in_(("granted", "denied")))
            .group_by(s.c.customer_id)
            .having(func.count(c.c.status.distinct()) > 1)
        )
        query = query.where(s.c.customer_id.in_(both))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for customer_id, record_key, source, status in conn.execute(query):
        grouped[customer_id].append({"record_key": record_key, "source": source, "status": status})
    return dict(grouped)


def open_complaints_by_customer(
    conn: Connection, closed_statuses: Iterable[str], scope: CustomerScope | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Complaints whose status is not a closed one, grouped by unified customer (of the scope only, if given)."""
    i = tables.interactions
    query, customer = _open_complaints(closed_statuses)
    query = query.add_columns(
        i.c.interaction_key, i.c.source, i.c.source_id, i.c.status, i.c.subject, i.c.occurred_at
    ).order_by(i.c.interaction_key)
    if scope is not None:
        query = query.where(scope.customer_filter(customer))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(query):
        values = dict(row._mapping)
        key = values.pop("customer")
        if key is not None:
            grouped[key].append(values)
    return dict(grouped)


def open_complaint_customers(closed_statuses: Iterable[str]) -> Select:
    """The unified customers with an open complaint, as a select to filter other reads by."""
    query, customer = _open_complaints(closed_statuses)
    return query.where(customer.is_not(None))


def _open_complaints(closed_statuses: Iterable[str]) -> tuple[Select, Any]:
    """The complaints whose status is not a closed one, selecting their customer, and that customer's expression."""
    i, s = tables.interactions, tables.source_identities
    closed = sorted({status.lower() for status in closed_statuses})
    customer = func.coalesce(i.c.customer_id, s.c.customer_id)
    query = (
        select(customer.label("customer"))
        .select_from(i.outerjoin(s, s.c.record_key == i.c.customer_record_key))
        .where(i.c.is_complaint.is_(True))
        .where(func.lower(func.coalesce(i.c.status, "")).not_in(closed))
    )
    return query, customer
