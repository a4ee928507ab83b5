"""Customer rules: conflicting attributes, duplicates in one channel, consent conflicts, complaints still targeted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection

from canalis.consistency.customers import (
    SourceRecord,
    consents_by_customer,
    open_complaint_customers,
    open_complaints_by_customer,
    records_by_customer,
)
from canalis.consistency.findings import Finding
from canalis.consistency.settings import ConsistencySettings
from canalis.mappings.normalize import normalize_street, phone_key, phonetic_key, postcode_key
from canalis.publishing.suppression import consent_pauses
from canalis.store import tables

if TYPE_CHECKING:
    from canalis.consistency.scope import CustomerScope

CUSTOMER = "customer"


def customer_attribute_conflicts(
    conn: Connection, settings: ConsistencySettings, now: datetime, scope: CustomerScope | None = None
) -> Iterator[Finding]:
    """Same unified customer, values that really disagree (not just written differently) across systems."""
    compare = set(settings.compare_attributes)
    grouped = records_by_customer(conn, scope, comparable_only=True)
    if "phone" in compare:
        ignored = [*settings.ignored_phones, *sorted(shared_phones(grouped) | business_phones(conn))]
        settings = settings.model_copy(update={"ignored_phones": ignored})
    for customer_id, records in grouped.items():
        if len(records) < 2:
            continue
        conflicts: dict[str, dict[str, list[str]]] = {}
        for attribute, check in ATTRIBUTE_CHECKS.items():
            if attribute in compare:
                values = check(records, settings)
                if values:
                    conflicts[attribute] = values
        if conflicts:
            channels = sorted({source for values in conflicts.values() for source in values})
            yield Finding(
                "customer_attribute_conflict",
                CUSTOMER,
                customer_id,
                channels,
                {"attributes": sorted(conflicts), "values": conflicts},
                settings.severity_of("customer_attribute_conflict", "warn"),
            )
    if "birth_date" in compare:
        yield from _split_by_birth_date(grouped, settings)


def _split_by_birth_date(grouped: dict[str, list[SourceRecord]], settings: ConsistencySettings) -> Iterator[Finding]:
    """Records with the same email and the same name that identity resolution kept apart over their birth dates.

    Identity resolution refuses to merge records whose birth dates conflict, so such a conflict never shows inside
    one unified customer: it shows as two customers alike in everything else. The finding names the first of them.
    """
    groups: dict[tuple[str, str], list[tuple[str, SourceRecord]]] = defaultdict(list)
    for customer_id, records in grouped.items():
        for record in records:
            email, name = record.email_key, " ".join(sorted(record.name_tokens))
            if email and name and record.birth_date is not None:
                groups[(email, name)].append((customer_id, record))
    for members in groups.values():
        customers = sorted({customer_id for customer_id, _ in members})
        if len(customers) < 2 or len({record.birth_date for _, record in members}) < 2:
            continue
        values = _by_source([(record, record.birth_date.isoformat()) for _, record in members])
        yield Finding(
            "customer_attribute_conflict",
            CUSTOMER,
            customers[0],
            sorted(values),
            {"attributes": ["birth_date"], "values": {"birth_date": values}, "split_customers": customers},
            settings.severity_of("customer_attribute_conflict", "warn"),
        )


def _by_source(pairs: list[tuple[SourceRecord, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = defaultdict(list)
    for record, value in pairs:
        if value not in values[record.source]:
            values[record.source].append(value)
    return {source: sorted(found) for source, found in sorted(values.items())}


def _birth_dates(records: list[SourceRecord], settings: ConsistencySettings) -> dict[str, list[str]] | None:
    pairs = [(r, r.birth_date.isoformat()) for r in records if r.birth_date is not None]
    return _by_source(pairs) if len({value for _, value in pairs}) > 1 else None


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions and swaps of neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _mailbox(email: str) -> tuple[str, str]:
    """Local part without dots or +tag, and the domain's first label: what people mistype least."""
    local, _, domain = email.rpartition("@")
    return local.split("+", 1)[0].replace(".", ""), domain.split(".", 1)[0]


def _same_mailbox(a: str, b: str, distance: int) -> bool:
    """Whether two emails are one mailbox written differently: +tags, dots, typos, a mistyped or sister domain."""
    (local_a, domain_a), (local_b, domain_b) = _mailbox(a), _mailbox(b)
    return edit_distance(local_a, local_b) <= distance and edit_distance(domain_a, domain_b) <= distance


def _emails(records: list[SourceRecord], settings: ConsistencySettings) -> dict[str, list[str]] | None:
    pairs = [(r, key) for r in records if (key := r.email_key)]
    distinct = sorted({value for _, value in pairs})
    distance = settings.email_typo_distance
    if not any(not _same_mailbox(a, b, distance) for n, a in enumerate(distinct) for b in distinct[n + 1 :]):
        return None
    return _by_source([(r, r.email or value) for r, value in pairs])


def shared_phones(grouped: dict[str, list[SourceRecord]]) -> set[str]:
    """Phones held by records of several unified customers: a shop's or switchboard's number, not a person's."""
    owners: dict[str, set[str]] = defaultdict(set)
    for customer_id, records in grouped.items():
        for record in records:
            if record.phone_key:
                owners[record.phone_key].add(customer_id)
    return {phone for phone, customers in owners.items() if len(customers) > 1}


def business_phones(conn: Connection) -> set[str]:
    """Phones of the business's own shops (raw `locations` streams), typed in when a customer gives none."""
    found: set[str] = set()
    query = select(tables.raw_records.c.payload).where(tables.raw_records.c.stream == "locations")
    for (payload,) in conn.execute(query):
        if not isinstance(payload, dict):
            continue
        country = payload.get("country") if isinstance(payload.get("country"), str) else "FR"
        for field in ("phone_number", "phone"):
            value = payload.get(field)
            if isinstance(value, str) and (key := phone_key(value, country)[0]):
                found.add(key)
    return found


def _phones(records: list[SourceRecord], settings: ConsistencySettings) -> dict[str, list[str]] | None:
    ignored = set(settings.ignored_phones)
    pairs = [(r, key) for r in records if (key := r.phone_key) and key not in ignored]
    return _by_source(pairs) if len({value for _, value in pairs}) > 1 else None


def _family_matches(record: SourceRecord, other: SourceRecord) -> bool:
    """Whether a record's family name appears in the other's name, exactly or by sound (swaps and typos allowed)."""
    family = record.family_tokens
    if not family:
        return True
    tokens = other.name_tokens
    if tokens.intersection(family):
        return True
    sounds = {phonetic_key(token) for token in tokens}
    return any(phonetic_key(token) in sounds for token in family)


def _names(records: list[SourceRecord], settings: ConsistencySettings) -> dict[str, list[str]] | None:
    named = [r for r in records if r.family_tokens]
    clash = any(
        not (_family_matches(a, b) or _family_matches(b, a)) for n, a in enumerate(named) for b in named[n + 1 :]
    )
    if not clash:
        return None
    return _by_source([(r, " ".join(part for part in (r.given_name, r.family_name) if part)) for r in named])


def _address_key(record: SourceRecord) -> tuple[str, str] | None:
    street = normalize_street(record.street)
    postcode = postcode_key(record.postcode, record.country or "FR") or (record.postcode or "").replace(" ", "")
    return (street, postcode) if street and postcode else None


def _changed_at(record: SourceRecord) -> datetime | None:
    return record.source_updated_at or record.loaded_at


def _addresses(records: list[SourceRecord], settings: ConsistencySettings) -> dict[str, list[str]] | None:
    """Different addresses count only when both are current: their records changed close to the latest change.

    An address in a record left untouched since well before the customer's newest record is taken as stale (the
    person moved and that system was not told), which is a publishing matter, not a conflict.
    """
    placed = [(r, key) for r in records if (key := _address_key(r))]
    stamps = [stamp for r, _ in placed if (stamp := _changed_at(r)) is not None]
    if len({key for _, key in placed}) < 2 or not stamps:
        return None
    latest = max(stamps)
    window = timedelta(days=settings.address_current_days)
    current = [(r, key) for r, key in placed if (stamp := _changed_at(r)) is not None and latest - stamp <= window]
    if len({key for _, key in current}) < 2:
        return None
    return _by_source([(r, f"{r.street}, {r.postcode} {r.city or ''}".strip()) for r, _ in current])


ATTRIBUTE_CHECKS = {
    "birth_date": _birth_dates,
    "email": _emails,
    "phone": _phones,
    "name": _names,
    "address": _addresses,
}


def duplicates_in_channel(
    conn: Connection, settings: ConsistencySettings, now: datetime, scope: CustomerScope | None = None
) -> Iterator[Finding]:
    """One channel holds several records of the same unified customer (found by a GROUP BY in the database)."""
    severity = settings.severity_of("duplicate_in_channel", "warn")
    held: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for customer_id, source, record_key, source_id in conn.execute(duplicate_records_query(scope)):
        held[(customer_id, source)].append((record_key, source_id))
    for (customer_id, source), records in held.items():
        yield Finding(
            "duplicate_in_channel",
            CUSTOMER,
            customer_id,
            [source],
            {"record_keys": [key for key, _ in records], "source_ids": [sid for _, sid in records]},
            severity,
        )


def duplicate_records_query(scope: CustomerScope | None = None) -> Select:
    """Records of the (unified customer, source) pairs holding more than one, by customer, source and record key."""
    r, s = tables.customer_records, tables.source_identities
    pairs = select(s.c.customer_id, r.c.source).join(r, r.c.record_key == s.c.record_key)
    if scope is not None:
        pairs = pairs.where(scope.customer_filter(s.c.customer_id))
    doubled = pairs.group_by(s.c.customer_id, r.c.source).having(func.count() > 1).subquery()
    return (
        select(s.c.customer_id, r.c.source, r.c.record_key, r.c.source_id)
        .join(s, s.c.record_key == r.c.record_key)
        .join(doubled, and_(doubled.c.customer_id == s.c.customer_id, doubled.c.source == r.c.source))
        .order_by(s.c.customer_id, r.c.source, r.c.record_key)
    )


def _statuses(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    statuses: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        statuses[row["status"]].add(row["source"])
    return statuses


def consent_conflicts(
    conn: Connection, settings: ConsistencySettings, now: datetime, scope: CustomerScope | None = None
) -> Iterator[Finding]:
    """Opted out in one system, subscribed in another, for the same purpose and channel.

    A refusal Canalis wrote itself to pause promotions during an open complaint is not the customer's opt-out,
    so it makes no conflict.
    """
    purpose, channel = settings.marketing_purpose, settings.marketing_channel
    paused = _paused(conn, purpose, channel)
    for customer_id, rows in consents_by_customer(conn, purpose, channel, scope, mixed_only=True).items():
        rows = [row for row in rows if not (row["status"] == "denied" and (row["source"], row["record_key"]) in paused)]
        statuses = _statuses(rows)
        denied, granted = statuses.get("denied", set()), statuses.get("granted", set())
        if denied and granted:
            yield Finding(
                "consent_conflict",
                CUSTOMER,
                customer_id,
                sorted(denied | granted),
                {
                    "purpose": purpose,
                    "channel": channel,
                    "opted_out_in": sorted(denied),
                    "subscribed_in": sorted(granted),
                },
                settings.severity_of("consent_conflict", "error"),
            )


def _paused(conn: Connection, purpose: str, channel: str) -> set[tuple[str, str]]:
    """(source, record_key) of the consents Canalis paused because of a complaint."""
    p = consent_pauses
    query = select(p.c.channel, p.c.record_key).where(p.c.purpose == purpose, p.c.medium == channel)
    return {(source, record_key) for source, record_key in conn.execute(query)}


def complaints_targeted(
    conn: Connection, settings: ConsistencySettings, now: datetime, scope: CustomerScope | None = None
) -> Iterator[Finding]:
    """An open complaint in some system while the customer is still subscribed to promotional messages elsewhere."""
    purpose, channel = settings.marketing_purpose, settings.marketing_channel
    complaints_of = open_complaints_by_customer(conn, settings.closed_statuses, scope)
    if not complaints_of:
        return
    complained = open_complaint_customers(settings.closed_statuses)
    consents = consents_by_customer(conn, purpose, channel, scope, customers=complained)
    for customer_id, complaints in sorted(complaints_of.items()):
        subscribed = sorted(_statuses(consents.get(customer_id, [])).get("granted", set()))
        if not subscribed:
            continue
        complaint_sources = sorted({row["source"] for row in complaints})
        yield Finding(
            "complaint_targeted_by_promotion",
            CUSTOMER,
            customer_id,
            sorted(set(complaint_sources) | set(subscribed)),
            {
                "complaint_in": complaint_sources,
                "complaints": [
                    {
                        "source": row["source"],
                        "id": row["source_id"],
                        "status": row["status"],
                        "subject": row["subject"],
                    }
                    for row in complaints
                ],
                "subscribed_in": subscribed,
            },
            settings.severity_of("complaint_targeted_by_promotion", "warn"),
        )
