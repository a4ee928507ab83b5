"""Research online, purchase offline: offline purchases preceded by an online interaction of the same customer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, case, exists, func, select

from canalis.kpis.settings import KpiSettings
from canalis.kpis.sql import effective_channel, is_active, lower_status, share, shift_days
from canalis.store import tables


@dataclass
class RopoReport:
    """Offline purchases, those with online research before them, and which online channels it was on."""

    window_days: int = 14
    purchases: int = 0
    ropo_purchases: int = 0
    unidentified_purchases: int = 0
    by_offline_channel: Counter = field(default_factory=Counter)
    ropo_by_offline_channel: Counter = field(default_factory=Counter)
    research_channels: Counter = field(default_factory=Counter)

    @property
    def ropo_share(self) -> float | None:
        """Share of identified offline purchases with online research in the window before."""
        return share(self.ropo_purchases, self.purchases)

    def rows(self) -> list[dict]:
        """Per offline channel: purchases, ROPO purchases, share."""
        return [
            {
                "offline_channel": channel,
                "purchases": count,
                "ropo_purchases": self.ropo_by_offline_channel.get(channel, 0),
                "ropo_share": share(self.ropo_by_offline_channel.get(channel, 0), count),
            }
            for channel, count in sorted(self.by_offline_channel.items())
        ]

    def research_rows(self) -> list[dict]:
        """Online channels found before ROPO purchases (a purchase counts once per channel)."""
        return [
            {"online_channel": channel, "ropo_purchases": count, "share_of_ropo": share(count, self.ropo_purchases)}
            for channel, count in sorted(self.research_channels.items(), key=lambda item: (-item[1], item[0]))
        ]


def ropo(conn: Connection, settings: KpiSettings) -> RopoReport:
    """Count offline purchases with an active online interaction in the N days before (SQL, one index seek each)."""
    purchase = tables.interactions
    online = tables.interactions.alias("online")
    report = RopoReport(window_days=settings.ropo_window_days)
    offline_channel = effective_channel(settings, purchase)
    is_purchase = and_(
        func.lower(purchase.c.kind).in_(settings.purchase_kinds),
        offline_channel.in_(settings.offline_channels),
        lower_status(purchase.c.status).not_in(settings.excluded_order_statuses),
    )
    researched = and_(
        online.c.customer_id == purchase.c.customer_id,
        online.c.occurred_at < purchase.c.occurred_at,
        online.c.occurred_at >= shift_days(purchase.c.occurred_at, -settings.ropo_window_days),
        effective_channel(settings, online).in_(settings.online_channels),
        is_active(settings, online),
    )
    ropo_flag = case((exists().where(researched), 1), else_=0)
    for channel, purchases, ropo_purchases in conn.execute(
        select(offline_channel, func.count(), func.sum(ropo_flag))
        .where(is_purchase, purchase.c.customer_id.is_not(None))
        .group_by(offline_channel)
    ):
        report.by_offline_channel[channel] = int(purchases)
        report.ropo_by_offline_channel[channel] = int(ropo_purchases or 0)
    report.purchases = sum(report.by_offline_channel.values())
    report.ropo_purchases = sum(report.ropo_by_offline_channel.values())
    report.unidentified_purchases = conn.execute(
        select(func.count()).select_from(purchase).where(is_purchase, purchase.c.customer_id.is_(None))
    ).scalar_one()

    research_channel = effective_channel(settings, online)
    pairs = (
        select(purchase.c.interaction_key, research_channel.label("channel"))
        .select_from(purchase.join(online, researched))
        .where(is_purchase, purchase.c.customer_id.is_not(None))
        .distinct()
        .subquery("research")
    )
    for channel, purchases in conn.execute(select(pairs.c.channel, func.count()).group_by(pairs.c.channel)):
        report.research_channels[channel] = int(purchases)
    return report
