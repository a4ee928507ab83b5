"""The cross-channel timeline: every interaction attached to its unified customer, in time order.

Attaching is one UPDATE in the database: an interaction takes the customer of its source record, or, when it has no
record that belongs to a customer, the one customer holding its email as a valid contact point; it is left
unattached when several customers hold that email. Only rows whose customer changes are written. The report's
figures (channel switches, customers seen in several channels) are aggregates worked out by the database too.

An incremental pass (`full=False`) looks again only at the interactions whose customer may have changed since the
last pass's high-water mark (kept in `sync_state`, connector `canalis:timeline`): interactions loaded since, those
of records whose identity changed, those carrying an email of a contact point that changed or whose record's
identity changed, those of customers whose golden record or records changed, and every unattached interaction with
an email (a contact point dropped from a record leaves no trace, and may have been what made an email ambiguous).
When the pass moved no interaction and no interaction was added, changed or removed, the last report is shown
again instead of aggregating every interaction once more. The customers an incremental pass moves interactions from
or to have their `updated_at` stamped, so that the passes scoped to changed customers see them.

The report's figures per customer (interactions, channels, channel switches along the timeline) are kept in
`timeline_customers`: a full pass works them out for everyone, an incremental one again only for the customers it
moved interactions from or to and those of interactions loaded since, and the report sums the table. Should the
table's interactions not add up to the attached ones (an interaction deleted, or the table new), it is worked out
in full again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, func, insert, or_, select, true, union, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from canalis.store import Store, tables

STATE_CONNECTOR = "canalis:timeline"
STATE_STREAM = "attach"
FIGURES_BATCH = 500  # customers whose figures are worked out again per statement


@dataclass
class TimelineReport:
    """How many interactions found their customer, and how customers move between channels."""

    interactions: int = 0
    attached: int = 0
    unattached: int = 0
    ambiguous: int = 0
    customers_with_interactions: int = 0
    multichannel_customers: int = 0
    channel_switches: int = 0
    by_channel: Counter = field(default_factory=Counter)
    example: list[dict[str, Any]] = field(default_factory=list)


def _record_customer() -> ColumnElement:
    """The customer of an interaction's source record (a correlated scalar subquery)."""
    i, s = tables.interactions, tables.source_identities
    return select(s.c.customer_id).where(s.c.record_key == i.c.customer_record_key).scalar_subquery()


def _email_holders(aggregate: ColumnElement) -> Any:
    """An aggregate over the customers holding an interaction's email as a valid contact point (correlated)."""
    i, cp, s = tables.interactions, tables.contact_points, tables.source_identities
    return (
        select(aggregate)
        .select_from(cp.join(s, s.c.record_key == cp.c.record_key))
        .where(cp.c.kind == "email", cp.c.is_valid.is_(True), cp.c.value == i.c.customer_email)
    )


def _attached_customer() -> ColumnElement:
    """The customer an interaction belongs to: its record's, else its email's when one customer alone holds it."""
    s = tables.source_identities
    only_one = (
        _email_holders(func.min(s.c.customer_id)).having(func.count(s.c.customer_id.distinct()) == 1).scalar_subquery()
    )
    return func.coalesce(_record_customer(), only_one)


def attach_interactions(store: Store, *, full: bool = True) -> TimelineReport:
    """Set `customer_id` on every interaction from its source record, or from its email when that is all it has.

    With `full=False`, only the interactions whose customer may have changed since the last pass are looked at.
    """
    i = tables.interactions
    with store.begin() as conn:
        mark = _high_water_mark(conn)
        state = None if full else _last_state(conn)
        since = _moment(state.get("high_water_mark")) if state else None
        customer = _attached_customer()
        moving = i.c.customer_id.is_distinct_from(customer)
        moves: list[Any] = []
        if since is None:
            moved_rows = conn.execute(update(i).where(moving).values(customer_id=customer)).rowcount
        else:
            moves = conn.execute(
                select(i.c.interaction_key, i.c.customer_id, customer).where(moving, _may_have_moved(since))
            ).all()
            _move(conn, moves)
            moved_rows = len(moves)
        shape = _interactions_shape(conn)
        if since is not None and moved_rows == 0 and state.get("interactions") == shape and state.get("report"):
            report = _report_from(state["report"])
        else:
            report = TimelineReport()
            _count_attached(conn, report)
            _update_figures(conn, since, moves, report.attached)
            _measure_switches(conn, report)
        cursor = {
            "high_water_mark": mark.isoformat() if mark else None,
            "interactions": shape,
            "report": _report_to(report),
        }
        _save_state(conn, cursor)
    return report


def _move(conn: Connection, moves: list[Any]) -> None:
    """Write the moves of an incremental pass, (interaction, old customer, new customer), and stamp the customers
    that lose or gain an interaction as changed, so that passes scoped to changed customers (consistency rules,
    consent plan) look at them again: an interaction can move without any data of its former customer changing
    (another customer now holds the email it was attached by)."""
    if not moves:
        return
    i = tables.interactions
    conn.execute(
        update(i).where(i.c.interaction_key == bindparam("b_key")).values(customer_id=bindparam("b_customer")),
        [{"b_key": key, "b_customer": new} for key, _, new in moves],
    )
    touched = sorted({customer for _, old, new in moves for customer in (old, new) if customer is not None})
    c = tables.customers
    for start in range(0, len(touched), 500):
        batch = touched[start : start + 500]
        conn.execute(update(c).where(c.c.customer_id.in_(batch)).values(updated_at=datetime.now(UTC)))


def _stamps() -> list[ColumnElement]:
    """The change stamps of every table that decides which customer an interaction belongs to."""
    return [
        tables.interactions.c.loaded_at,
        tables.source_identities.c.updated_at,
        tables.contact_points.c.updated_at,
        tables.customers.c.updated_at,
        tables.customer_records.c.loaded_at,
    ]


def _high_water_mark(conn: Connection) -> datetime | None:
    """The latest change stamp of those tables (one SELECT)."""
    row = conn.execute(select(*(select(func.max(stamp)).scalar_subquery() for stamp in _stamps()))).one()
    found = [_moment(value) for value in row if value is not None]
    return max(found) if found else None


def _moment(value: datetime | str | None) -> datetime | None:
    """A stamp as an aware datetime (SQLite gives max() of a timestamp column as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _may_have_moved(since: datetime) -> ColumnElement[bool]:
    """Interactions whose customer may have changed since `since` (see the module documentation)."""
    i, s, cp = tables.interactions, tables.source_identities, tables.contact_points
    r, c = tables.customer_records, tables.customers
    identities = select(s.c.record_key).where(s.c.updated_at > since)
    emails = select(cp.c.value).where(
        cp.c.kind == "email", or_(cp.c.updated_at > since, cp.c.record_key.in_(identities))
    )
    customers = union(
        select(c.c.customer_id).where(c.c.updated_at > since),
        select(s.c.customer_id).join(r, r.c.record_key == s.c.record_key).where(r.c.loaded_at > since),
    )
    return or_(
        i.c.loaded_at > since,
        i.c.customer_record_key.in_(identities),
        i.c.customer_email.in_(emails),
        i.c.customer_id.in_(customers),
        and_(i.c.customer_id.is_(None), i.c.customer_email.is_not(None)),
    )


def _interactions_shape(conn: Connection) -> list[str | int | None]:
    """The number of interactions and their latest load stamp: any added, changed or removed one changes it."""
    i = tables.interactions
    rows, latest = conn.execute(select(func.count(), func.max(i.c.loaded_at))).one()
    moment = _moment(latest)
    return [rows, moment.isoformat() if moment else None]


def _report_to(report: TimelineReport) -> dict[str, Any]:
    return {**asdict(report), "by_channel": dict(report.by_channel)}


def _report_from(saved: dict[str, Any]) -> TimelineReport:
    return TimelineReport(**{**saved, "by_channel": Counter(saved["by_channel"])})


def _last_state(conn: Connection) -> dict[str, Any] | None:
    s = tables.sync_state
    return conn.execute(select(s.c.cursor).where(s.c.connector == STATE_CONNECTOR, s.c.stream == STATE_STREAM)).scalar()


def _save_state(conn: Connection, cursor: dict[str, Any]) -> None:
    s = tables.sync_state
    where = and_(s.c.connector == STATE_CONNECTOR, s.c.stream == STATE_STREAM)
    version = conn.execute(select(s.c.version).where(where)).scalar()
    values = {"cursor": cursor, "updated_at": datetime.now(UTC), "run_id": None}
    if version is None:
        conn.execute(insert(s).values(connector=STATE_CONNECTOR, stream=STATE_STREAM, version=1, **values))
    else:
        conn.execute(update(s).where(where).values(version=version + 1, **values))


def _count_attached(conn: Connection, report: TimelineReport) -> None:
    """Interactions, attached ones, and unattached ones whose email several customers hold."""
    i = tables.interactions
    report.interactions, report.attached = conn.execute(select(func.count(), func.count(i.c.customer_id))).one()
    report.unattached = report.interactions - report.attached
    if not report.unattached:
        return
    s = tables.source_identities
    several = _email_holders(func.count(s.c.customer_id.distinct())).scalar_subquery() > 1
    report.ambiguous = conn.execute(
        select(func.count()).where(i.c.customer_id.is_(None), i.c.customer_email.is_not(None), several)
    ).scalar_one()


def _customer_figures(where: ColumnElement[bool]) -> Select:
    """Interactions, distinct channels and channel switches of each customer of the attached interactions that
    `where` keeps (a customer's interactions are kept or left out together)."""
    i = tables.interactions
    previous = func.lag(i.c.channel).over(partition_by=i.c.customer_id, order_by=(i.c.occurred_at, i.c.interaction_key))
    steps = (
        select(i.c.customer_id, i.c.channel, previous.label("previous"))
        .where(i.c.customer_id.is_not(None), where)
        .subquery()
    )
    switched = case((and_(steps.c.previous.is_not(None), steps.c.previous != steps.c.channel), 1), else_=0)
    return select(
        steps.c.customer_id,
        func.count().label("interactions"),
        func.count(steps.c.channel.distinct()).label("channels"),
        func.sum(switched).label("switches"),
    ).group_by(steps.c.customer_id)


def _update_figures(conn: Connection, since: datetime | None, moves: list[Any], attached: int) -> None:
    """Work out `timeline_customers` again: in full (no `since`), else for the customers the pass moved
    interactions from or to and those of interactions loaded since; in full anyway when the table's interactions
    do not add up to the `attached` ones."""
    figures, i = tables.timeline_customers, tables.interactions
    columns = ["customer_id", "interactions", "channels", "switches"]
    if since is not None:
        loaded = select(i.c.customer_id).where(i.c.loaded_at > since, i.c.customer_id.is_not(None)).distinct()
        touched = {customer for _, old, new in moves for customer in (old, new) if customer is not None}
        touched.update(conn.execute(loaded).scalars())
        ordered = sorted(touched)
        for start in range(0, len(ordered), FIGURES_BATCH):
            batch = ordered[start : start + FIGURES_BATCH]
            conn.execute(delete(figures).where(figures.c.customer_id.in_(batch)))
            conn.execute(insert(figures).from_select(columns, _customer_figures(i.c.customer_id.in_(batch))))
        counted = conn.execute(select(func.coalesce(func.sum(figures.c.interactions), 0))).scalar_one()
        if int(counted) == attached:
            return
    conn.execute(delete(figures))
    conn.execute(insert(figures).from_select(columns, _customer_figures(true())))


def _measure_switches(conn: Connection, report: TimelineReport) -> None:
    """Interactions per channel, and from `timeline_customers`: customers with interactions, multichannel ones,
    channel switches along their timelines, and the busiest timeline."""
    i, figures = tables.interactions, tables.timeline_customers
    attached = i.c.customer_id.is_not(None)
    for channel, count in conn.execute(select(i.c.channel, func.count()).where(attached).group_by(i.c.channel)):
        report.by_channel[channel] = count
    customers, multichannel, switches = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((figures.c.channels > 1, 1), else_=0)), 0),
            func.coalesce(func.sum(figures.c.switches), 0),
        )
    ).one()
    report.customers_with_interactions, report.multichannel_customers = int(customers), int(multichannel)
    report.channel_switches = int(switches)
    busiest = conn.execute(
        select(figures.c.customer_id)
        .order_by(figures.c.channels.desc(), figures.c.interactions.desc(), figures.c.customer_id)
        .limit(1)
    ).scalar()
    if busiest is not None:
        report.example = customer_timeline(conn, busiest)


def customer_timeline(conn, customer_id: str) -> list[dict[str, Any]]:
    """One customer's interactions across channels, oldest first."""
    i = tables.interactions
    rows = conn.execute(
        select(
            i.c.occurred_at,
            i.c.channel,
            i.c.kind,
            i.c.source,
            i.c.subject,
            i.c.status,
            i.c.amount,
            i.c.currency,
        )
        .where(i.c.customer_id == customer_id)
        .order_by(i.c.occurred_at, i.c.interaction_key)
    )
    return [
        {
            "customer_id": customer_id,
            "occurred_at": row.occurred_at.isoformat(),
            "channel": row.channel,
            "kind": row.kind,
            "source": row.source,
            "subject": row.subject or "",
            "status": row.status or "",
            "amount": f"{row.amount} {row.currency}" if row.amount is not None else "",
        }
        for row in rows
    ]
