"""Omnichannel KPIs over the canonical store: channel mix, repeat contacts, first-contact resolution, CSAT/NPS,
lifetime value and research-online-purchase-offline. Pure computations; the Dagster assets are in assets/kpis.py."""

from canalis.kpis.channels import ChannelMix, channel_mix
from canalis.kpis.ropo import RopoReport, ropo
from canalis.kpis.satisfaction import SatisfactionReport, satisfaction
from canalis.kpis.service import ServiceReport, service_kpis
from canalis.kpis.settings import KpiSettings, kpi_settings
from canalis.kpis.value import LifetimeValueReport, lifetime_value

__all__ = [
    "ChannelMix",
    "KpiSettings",
    "LifetimeValueReport",
    "RopoReport",
    "SatisfactionReport",
    "ServiceReport",
    "channel_mix",
    "kpi_settings",
    "lifetime_value",
    "ropo",
    "satisfaction",
    "service_kpis",
]
