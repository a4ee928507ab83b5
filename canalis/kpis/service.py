"""Service KPIs: customers who had to repeat themselves on another channel, and first-contact resolution.

One pass over the service contacts in (customer, time) order: only one customer's contacts are in memory at a time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, func, select

from canalis.kpis.settings import GENERIC_COMPLAINT_FAMILY, KpiSettings, fold
from canalis.kpis.sql import effective_channel, lower_status, share
from canalis.store import tables

STREAM_BATCH = 5_000
MAX_EXAMPLES = 10


@dataclass
class Contact:
    """One service interaction as the KPIs see it."""

    customer_id: str
    key: str
    thread: str
    channel: str
    occurred_at: datetime
    status: str
    by_agent: bool
    family: str | None = None
    complaint: bool = False
    order_ref: str | None = None
    subject: str = ""


@dataclass
class Thread:
    """A case, ticket or mail thread of one customer."""

    key: str
    channel: str
    customer_contacts: int = 0
    last_status: str = ""
    repeats_earlier: bool = False
    followed_up: bool = False


@dataclass
class ServiceReport:
    """Repeat contacts across channels and first-contact resolution."""

    window_days: int = 7
    contacts: int = 0
    unidentified_contacts: int = 0
    customers_with_contacts: int = 0
    repeat_contacts: int = 0
    same_channel_repeats: int = 0
    customers_who_repeated: int = 0
    repeats_by_channels: Counter = field(default_factory=Counter)
    repeats_by_reason: Counter = field(default_factory=Counter)
    contacts_by_channel: Counter = field(default_factory=Counter)
    repeats_by_channel: Counter = field(default_factory=Counter)
    threads: int = 0
    open_threads: int = 0
    resolved_threads: int = 0
    first_contact_resolved: int = 0
    resolved_by_channel: Counter = field(default_factory=Counter)
    first_contact_by_channel: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def repeat_rate(self) -> float | None:
        """Share of customer contacts that repeat an earlier contact on another channel."""
        return share(self.repeat_contacts, self.contacts)

    @property
    def fcr_rate(self) -> float | None:
        """Share of resolved threads resolved with one customer contact, repeating none and repeated by none."""
        return share(self.first_contact_resolved, self.resolved_threads)

    def repeat_rows(self) -> list[dict]:
        """Per channel the repeat contact arrived on: contacts, repeats, rate."""
        return [
            {
                "channel": channel,
                "contacts": count,
                "repeats": self.repeats_by_channel.get(channel, 0),
                "repeat_rate": share(self.repeats_by_channel.get(channel, 0), count),
            }
            for channel, count in sorted(self.contacts_by_channel.items(), key=lambda item: (-item[1], item[0]))
        ]

    def fcr_rows(self) -> list[dict]:
        """Per channel of the first contact: resolved threads, resolved at first contact, rate."""
        return [
            {
                "channel": channel,
                "resolved_threads": count,
                "first_contact_resolved": self.first_contact_by_channel.get(channel, 0),
                "fcr_rate": share(self.first_contact_by_channel.get(channel, 0), count),
            }
            for channel, count in sorted(self.resolved_by_channel.items(), key=lambda item: (-item[1], item[0]))
        ]


class ContactReader:
    """Turns interaction rows into contacts: subject family, complaint flag, order reference."""

    def __init__(self, settings: KpiSettings) -> None:
        self.settings = settings
        self.families = [
            (name, re.compile(r"\b(?:" + "|".join(re.escape(keyword) for keyword in keywords) + ")"))
            for name, keywords in settings.subject_families.items()
        ]
        self.order_pattern = re.compile(settings.order_reference_pattern, re.IGNORECASE)

    def family(self, subject: str) -> str | None:
        """The first subject family whose keyword the subject holds."""
        folded = fold(subject)
        return next((name for name, pattern in self.families if pattern.search(folded)), None)

    def order_reference(self, subject: str, attributes: Any) -> str | None:
        """The order a contact is about, from its attributes or its subject, upper-case without '#'."""
        if isinstance(attributes, dict):
            for name in self.settings.order_reference_attributes:
                value = attributes.get(name)
                if value not in (None, ""):
                    return str(value).strip().lstrip("#").upper()
        match = self.order_pattern.search(subject)
        return match.group(1).upper() if match else None

    def contact(self, row) -> Contact:
        subject = row.subject or ""
        family = self.family(subject) if subject else None
        status = (row.status or "").lower()
        return Contact(
            customer_id=row.customer_id,
            key=row.interaction_key,
            thread=row.thread_key or row.interaction_key,
            channel=row.channel,
            occurred_at=row.occurred_at,
            status=status,
            by_agent=status in self.settings.agent_statuses,
            family=family,
            complaint=bool(row.is_complaint) or family == GENERIC_COMPLAINT_FAMILY,
            order_ref=self.order_reference(subject, row.attributes),
            subject=subject,
        )


def same_issue(earlier: Contact, later: Contact) -> str | None:
    """Why two contacts are about the same case or order (thread, order, family, complaint), or None."""
    if earlier.thread == later.thread:
        return "same thread"
    if earlier.order_ref and earlier.order_ref == later.order_ref:
        return "same order"
    specific = {earlier.family, later.family} - {None, GENERIC_COMPLAINT_FAMILY}
    if earlier.family == later.family and len(specific) == 1:
        return "same subject family"
    if earlier.complaint and later.complaint and len(specific) < 2:
        return "complaint again"
    return None


def service_contacts(conn: Connection, settings: KpiSettings) -> Iterator[Contact]:
    """Service contacts of unified customers, customer by customer, oldest first (streamed)."""
    i = tables.interactions
    reader = ContactReader(settings)
    query = (
        select(
            i.c.customer_id,
            i.c.interaction_key,
            i.c.thread_key,
            effective_channel(settings).label("channel"),
            i.c.occurred_at,
            i.c.status,
            i.c.subject,
            i.c.is_complaint,
            i.c.attributes,
        )
        .where(func.lower(i.c.kind).in_(settings.contact_kinds), i.c.customer_id.is_not(None))
        .order_by(i.c.customer_id, i.c.occurred_at, i.c.interaction_key)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for row in conn.execute(query):
        yield reader.contact(row)


def service_kpis(conn: Connection, settings: KpiSettings) -> ServiceReport:
    """Repeat-contact rate and first-contact resolution over every unified customer's service contacts."""
    i = tables.interactions
    report = ServiceReport(window_days=settings.repeat_window_days)
    report.unidentified_contacts = conn.execute(
        select(func.count()).where(
            func.lower(i.c.kind).in_(settings.contact_kinds),
            i.c.customer_id.is_(None),
            lower_status(i.c.status).not_in(settings.agent_statuses),
        )
    ).scalar_one()
    measure_contacts(service_contacts(conn, settings), settings, report)
    return report


def measure_contacts(contacts: Iterable[Contact], settings: KpiSettings, report: ServiceReport) -> ServiceReport:
    """Fold contacts (grouped by customer, oldest first) into the report."""
    window = timedelta(days=settings.repeat_window_days)
    for _, group in groupby(contacts, key=lambda contact: contact.customer_id):
        _measure_customer(list(group), window, settings, report)
    return report


def _measure_customer(contacts: list[Contact], window: timedelta, settings: KpiSettings, report: ServiceReport) -> None:
    threads: dict[str, Thread] = {}
    recent: list[Contact] = []
    repeated = False
    counted = False
    for contact in contacts:
        thread = threads.setdefault(contact.thread, Thread(contact.thread, contact.channel))
        thread.last_status = contact.status
        if contact.by_agent:
            continue
        counted = True
        report.contacts += 1
        report.contacts_by_channel[contact.channel] += 1
        recent = [earlier for earlier in recent if contact.occurred_at - earlier.occurred_at <= window]
        matches = [(earlier, reason) for earlier in recent if (reason := same_issue(earlier, contact))]
        other_threads = {earlier.thread for earlier, _ in matches if earlier.thread != contact.thread}
        for other in other_threads:
            threads[other].followed_up = True
        if thread.customer_contacts == 0:
            thread.channel = contact.channel
            thread.repeats_earlier = bool(other_threads)
        thread.customer_contacts += 1
        across = [(earlier, reason) for earlier, reason in matches if earlier.channel != contact.channel]
        if across:
            earlier, reason = across[-1]
            repeated = True
            report.repeat_contacts += 1
            report.repeats_by_channel[contact.channel] += 1
            report.repeats_by_channels[f"{earlier.channel} -> {contact.channel}"] += 1
            report.repeats_by_reason[reason] += 1
            if len(report.examples) < MAX_EXAMPLES:
                report.examples.append(_example(earlier, contact, reason))
        elif matches:
            report.same_channel_repeats += 1
        recent.append(contact)
    report.customers_with_contacts += int(counted)
    report.customers_who_repeated += int(repeated)
    for thread in threads.values():
        if thread.customer_contacts == 0:
            continue
        report.threads += 1
        if thread.last_status not in settings.resolved_statuses:
            report.open_threads += 1
            continue
        report.resolved_threads += 1
        report.resolved_by_channel[thread.channel] += 1
        if thread.customer_contacts == 1 and not thread.repeats_earlier and not thread.followed_up:
            report.first_contact_resolved += 1
            report.first_contact_by_channel[thread.channel] += 1


def _example(earlier: Contact, later: Contact, reason: str) -> dict[str, Any]:
    return {
        "customer_id": later.customer_id,
        "first": f"{earlier.occurred_at:%Y-%m-%d %H:%M} {earlier.channel}: {earlier.subject}",
        "again": f"{later.occurred_at:%Y-%m-%d %H:%M} {later.channel}: {later.subject}",
        "reason": reason,
    }
