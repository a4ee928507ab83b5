"""Omnichannel KPIs over the canonical store: channel mix, repeat contacts, first-contact resolution, CSAT/NPS,
lifetime value and research-online-purchase-offline. Pure computations; the Dagster assets are in assets/kpis.py."""

from mappings.kpis.channels import ChannelMix, channel_mix
from mappings.kpis.ropo import RopoReport, ropo
from mappings.kpis.satisfaction import SatisfactionReport, satisfaction
from mappings.kpis.service import ServiceReport, service_kpis
from mappings.kpis.settings import KpiSettings, kpi_settings
from mappings.kpis.value import LifetimeValueReport, lifetime_value

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
