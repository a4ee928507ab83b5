"""Finding everything Canalis holds on one person: their source records, golden records, orders, interactions,
raw and quarantined records, by an email address or a unified customer id."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.privacy.subjects import normalise_email
from canalis.sdk.errors import CanalisError
from canalis.store import tables as t

CHUNK = 500


class PersonNotFound(CanalisError):
    """No source record matches the email address or customer id asked for."""


@dataclass
class Person:
    """Keys of what the store holds on one person (ids and hashes only are ever shown of it)."""

    record_keys: set[str] = field(default_factory=set)
    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    order_keys: set[str] = field(default_factory=set)
    interaction_keys: set[str] = field(default_factory=set)

    def source_records(self, conn: Connection) -> list[tuple[str, str, str]]:
        """(source, object, source_id) of the person's customer records, in key order."""
        cr = t.customer_records
        rows = _in(conn, sa.select(cr.c.source, cr.c.object, cr.c.source_id), cr.c.record_key, self.record_keys)
        return sorted((row.source, row.object, row.source_id) for row in rows)

    def raw_refs(self, conn: Connection) -> set[tuple[str, str, str]]:
        """(source, stream, record_id) of every raw record of the person: their customer records, orders and
        interactions, and any raw record that holds one of their email addresses."""
        refs = {split_key(key) for key in self.record_keys | self.order_keys | self.interaction_keys}
        raw = t.raw_records
        for email in sorted(self.emails):
            query = sa.select(raw.c.source, raw.c.stream, raw.c.record_id).where(contains(raw.c.payload, email))
            refs.update(tuple(row) for row in conn.execute(query))
        return refs


def split_key(key: str) -> tuple[str, str, str]:
    """A record key `source:object:source_id` as its three parts (the id may hold colons)."""
    source, obj, source_id = key.split(":", 2)
    return source, obj, source_id


def contains(column: sa.ColumnElement, text: str) -> sa.ColumnElement[bool]:
    """Whether a column's text holds `text`, case aside (LIKE wildcards in it taken literally)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(sa.cast(column, sa.Text)).like(f"%{escaped}%", escape="\\")


def _in(conn: Connection, query: sa.Select, column: sa.ColumnElement, values: set[str]) -> list[sa.Row]:
    ordered = sorted(values)
    rows: list[sa.Row] = []
    for start in range(0, len(ordered), CHUNK):
        rows.extend(conn.execute(query.where(column.in_(ordered[start : start + CHUNK]))).all())
    return rows


def _values(conn: Connection, out: sa.Column, column: sa.Column, values: set[str]) -> set[str]:
    """Values of `out` in the rows whose `column` is among `values`."""
    return {row[0] for row in _in(conn, sa.select(out), column, values) if row[0] is not None}


def find_person(conn: Connection, *, email: str | None = None, customer: str | None = None) -> Person:
    """Everything linked to the person with this email address or unified customer id; PersonNotFound if none."""
    if (email is None) == (customer is None):
        raise CanalisError("name the person by exactly one of --email or --customer")
    cr = t.customer_records
    person = Person()
    if email is not None:
        wanted = normalise_email(email)
        person.emails.add(wanted)
        person.record_keys.update(
            conn.execute(sa.select(cr.c.record_key).where(sa.func.lower(cr.c.email) == wanted)).scalars()
        )
        cp = t.contact_points
        person.record_keys.update(
            conn.execute(sa.select(cp.c.record_key).where(cp.c.kind == "email", cp.c.value == wanted)).scalars()
        )
    else:
        person.customer_ids.add(str(customer))
    return expand(conn, person)


def person_of_records(conn: Connection, record_keys: set[str]) -> Person:
    """Everything linked to these source records (those still stored), and to their golden records."""
    return expand(conn, Person(record_keys=set(record_keys)), required=False)


def expand(conn: Connection, person: Person, *, required: bool = True) -> Person:
    """The person with everything linked to their records: golden records, their other source records, emails,
    phones, orders and interactions."""
    cr, si = t.customer_records, t.source_identities
    # the golden records of these source records, and every source record of those golden records
    person.customer_ids.update(_values(conn, si.c.customer_id, si.c.record_key, person.record_keys))
    person.record_keys.update(_values(conn, si.c.record_key, si.c.customer_id, person.customer_ids))
    if not person.record_keys and required:
        raise PersonNotFound("no source record matches that person: nothing is held on them")
    for row in _in(conn, sa.select(cr.c.email, cr.c.phone), cr.c.record_key, person.record_keys):
        if row.email:
            person.emails.add(normalise_email(row.email))
        if row.phone:
            person.phones.add(row.phone)
    orders, it = t.orders, t.interactions
    person.order_keys.update(_values(conn, orders.c.order_key, orders.c.customer_record_key, person.record_keys))
    person.interaction_keys.update(_values(conn, it.c.interaction_key, it.c.customer_record_key, person.record_keys))
    person.interaction_keys.update(_values(conn, it.c.interaction_key, it.c.customer_id, person.customer_ids))
    person.interaction_keys.update(_values(conn, it.c.interaction_key, it.c.customer_email, person.emails))
    return person
