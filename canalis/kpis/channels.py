"""Channel mix: how many channels each unified customer uses, and the share active on two or more."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from canalis.kpis.settings import KpiSettings
from canalis.kpis.sql import customer_channel_pairs, share
from canalis.store import tables


@dataclass
class ChannelMix:
    """Unified customers by number of channels used, and per channel."""

    customers: int = 0
    active_customers: int = 0
    multichannel_customers: int = 0
    distribution: dict[int, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    multichannel_by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def multichannel_share(self) -> float | None:
        """Share of active customers (one channel or more) active on two channels or more."""
        return share(self.multichannel_customers, self.active_customers)

    def rows(self) -> list[dict]:
        """The distribution as table rows: channels, customers, share of all unified customers."""
        return [
            {"channels": n, "customers": count, "share_of_customers": share(count, self.customers)}
            for n, count in sorted(self.distribution.items())
        ]

    def channel_rows(self) -> list[dict]:
        """Per channel: active customers and how many of them use another channel too."""
        return [
            {
                "channel": channel,
                "customers": count,
                "also_on_another_channel": self.multichannel_by_channel.get(channel, 0),
                "share_multichannel": share(self.multichannel_by_channel.get(channel, 0), count),
            }
            for channel, count in sorted(self.by_channel.items(), key=lambda item: (-item[1], item[0]))
        ]


def channel_mix(conn: Connection, settings: KpiSettings) -> ChannelMix:
    """Count unified customers by the number of channels they used, in one SQL aggregate.

    The (customer, channel) pairs are worked out once (a common table expression read twice): each pair is counted
    under its channel and its customer's number of channels. A customer of n channels gives n pairs, so the
    customers of n channels are the pairs counted under n, divided by n.
    """
    pairs = customer_channel_pairs(settings).cte("pairs")
    c = tables.customers
    counts = (
        select(pairs.c.customer_id, func.count().label("channels"))
        .select_from(pairs.join(c, c.c.customer_id == pairs.c.customer_id))
        .group_by(pairs.c.customer_id)
        .cte("channel_counts")
    )
    report = ChannelMix()
    report.customers = conn.execute(select(func.count()).select_from(c)).scalar_one()
    pairs_by_count: dict[int, int] = {}
    for channels, channel, count in conn.execute(
        select(counts.c.channels, pairs.c.channel, func.count())
        .select_from(pairs.join(counts, counts.c.customer_id == pairs.c.customer_id))
        .group_by(counts.c.channels, pairs.c.channel)
    ):
        channels, count = int(channels), int(count)
        pairs_by_count[channels] = pairs_by_count.get(channels, 0) + count
        report.by_channel[channel] = report.by_channel.get(channel, 0) + count
        multichannel = count if channels >= 2 else 0
        report.multichannel_by_channel[channel] = report.multichannel_by_channel.get(channel, 0) + multichannel
    report.distribution = {channels: total // channels for channels, total in sorted(pairs_by_count.items())}
    report.active_customers = sum(report.distribution.values())
    report.multichannel_customers = sum(count for n, count in report.distribution.items() if n >= 2)
    if report.customers > report.active_customers:
        report.distribution[0] = report.customers - report.active_customers
    return report
