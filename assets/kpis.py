"""KPI assets: the omnichannel measures customer-relation teams steer by, computed over the canonical store.

Each asset reads the store with SQL aggregates (the service KPIs stream contacts customer by customer) and reports
its value(s), a markdown breakdown and, where a picture reads better, a bar chart: a PNG under `<Canalis home>/kpis`
when matplotlib is installed (an inline image in the markdown too), a text bar chart otherwise.

An incremental sync after which nothing the KPIs read changed (`canalis.kpis.inputs`) shows the last figures again,
marked `unchanged_since_last_run`; a full sync always works them out.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from sqlalchemy import Connection

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import counter_table, markdown_table
from canalis.assets.translator import CanalisTranslator
from canalis.assets.unified import CUSTOMER_TIMELINE, UNIFIED_CUSTOMERS
from canalis.config.connections import CanalisConfig
from canalis.kpis import (
    KpiSettings,
    channel_mix,
    lifetime_value,
    ropo,
    satisfaction,
    service_kpis,
)
from canalis.kpis.charts import inline_image, png_bars, save_png, text_bars
from canalis.kpis.inputs import inputs_fingerprint
from canalis.kpis.satisfaction import CSAT, NPS, SEGMENTS
from canalis.kpis.service import ServiceReport
from canalis.store import Store
from canalis.store.database import canalis_home

KPI_GROUP = "kpis"
KPI_PREFIX = "kpis"

Metadata = dict[str, Any]


def kpi_key(name: str) -> AssetKey:
    """The asset key of a KPI: kpis/<name>."""
    return AssetKey([KPI_PREFIX, name])


def chart_folder() -> Path:
    """Where KPI charts are written: the `kpis` folder of the Canalis home."""
    return canalis_home() / "kpis"


def chart_metadata(name: str, title: str, labels: Sequence[Any], values: Sequence[float], unit: str = "") -> Metadata:
    """`chart` (PNG path, when matplotlib is installed) and `chart_preview` (inline image, else text bars)."""
    labels = [str(label) for label in labels]
    values = [float(value) for value in values]
    bars = text_bars(labels, values, unit)
    data = png_bars(title, labels, values, "share" if unit == "%" else unit)
    if data is None:
        return {"chart_preview": MetadataValue.md(f"**{title}**\n\n{bars}")}
    path = save_png(data, chart_folder(), name)
    return {
        "chart": MetadataValue.path(str(path)),
        "chart_preview": MetadataValue.md(f"**{title}**\n\n{inline_image(data, title)}\n\n{bars}"),
    }


def _number(value: float | None) -> MetadataValue:
    return MetadataValue.float(float(value)) if value is not None else MetadataValue.null()


def channel_mix_metadata(conn: Connection, settings: KpiSettings) -> Metadata:
    """Share of customers on 2+ channels, and the distribution of channels per customer."""
    report = channel_mix(conn, settings)
    rows = report.rows()
    return {
        "multichannel_share": _number(report.multichannel_share),
        "customers": report.customers,
        "active_customers": report.active_customers,
        "multichannel_customers": report.multichannel_customers,
        "distribution": markdown_table(rows, ["channels", "customers", "share_of_customers"]),
        "by_channel": markdown_table(report.channel_rows()),
        **chart_metadata(
            "channel_mix",
            "Customers by number of channels used",
            [row["channels"] for row in rows],
            [row["customers"] for row in rows],
        ),
    }


def repeat_contact_metadata(report: ServiceReport) -> Metadata:
    """Share of service contacts that repeat an earlier one on another channel within the window."""
    rows = [row for row in report.repeat_rows() if row["repeat_rate"] is not None]
    return {
        "repeat_contact_rate": _number(report.repeat_rate),
        "contacts": report.contacts,
        "repeat_contacts": report.repeat_contacts,
        "same_channel_repeats": report.same_channel_repeats,
        "customers_with_contacts": report.customers_with_contacts,
        "customers_who_repeated": report.customers_who_repeated,
        "unidentified_contacts": report.unidentified_contacts,
        "window_days": report.window_days,
        "by_channel": markdown_table(report.repeat_rows()),
        "by_reason": counter_table(report.repeats_by_reason, "reason", "repeat_contacts"),
        "channel_pairs": counter_table(report.repeats_by_channels, "from -> to", "repeat_contacts"),
        "examples": markdown_table(report.examples),
        **chart_metadata(
            "repeat_contact_rate",
            "Repeat-contact rate by channel of the repeat",
            [row["channel"] for row in rows],
            [row["repeat_rate"] for row in rows],
            "%",
        ),
    }


def first_contact_resolution_metadata(report: ServiceReport) -> Metadata:
    """Share of resolved service threads resolved with one customer contact and no repeat."""
    rows = report.fcr_rows()
    return {
        "first_contact_resolution": _number(report.fcr_rate),
        "threads": report.threads,
        "resolved_threads": report.resolved_threads,
        "first_contact_resolved": report.first_contact_resolved,
        "open_threads": report.open_threads,
        "by_channel": markdown_table(rows),
        **chart_metadata(
            "first_contact_resolution",
            "First-contact resolution by channel",
            [row["channel"] for row in rows],
            [row["fcr_rate"] for row in rows],
            "%",
        ),
    }


def satisfaction_metadata(conn: Connection, settings: KpiSettings) -> Metadata:
    """CSAT (1-5) and NPS (0-10), overall and for single- and multi-channel customers."""
    report = satisfaction(conn, settings)
    csat, nps = report.total(CSAT), report.total(NPS)
    metadata: Metadata = {
        "csat": _number(csat.csat),
        "csat_responses": csat.responses,
        "csat_average": _number(csat.average),
        "nps": _number(nps.nps),
        "nps_responses": nps.responses,
        "out_of_range_scores": report.out_of_range,
        "scales": counter_table(report.scales, "source", "scale"),
        "by_segment": markdown_table(report.rows()),
    }
    for segment in SEGMENTS[:2]:
        metadata[f"csat_{segment}"] = _number(report.csat[segment].csat)
        metadata[f"nps_{segment}"] = _number(report.nps[segment].nps)
    measured = [segment for segment in SEGMENTS if report.csat[segment].responses]
    metadata.update(
        chart_metadata(
            "satisfaction",
            "CSAT by customer segment",
            measured,
            [report.csat[segment].csat or 0.0 for segment in measured],
            "%",
        )
    )
    return metadata


def lifetime_value_metadata(conn: Connection, settings: KpiSettings) -> Metadata:
    """Revenue per unified customer, per currency (never added across currencies), by channels used."""
    report = lifetime_value(conn, settings)
    metadata: Metadata = {
        "currencies": ", ".join(report.currencies) or "none",
        "orders_counted": report.orders_counted,
        "orders_back_office_or_cancelled": report.orders_back_office_or_cancelled,
        "orders_without_customer": report.orders_without_customer,
        "orders_without_amount": report.orders_without_amount,
        "by_currency_and_channels": markdown_table(report.rows()),
    }
    for currency in report.currencies:
        total = report.total(currency)
        metadata[f"customers_with_orders_{currency}"] = total.customers
        metadata[f"revenue_{currency}"] = _number(total.revenue)
        metadata[f"value_per_customer_{currency}"] = _number(total.per_customer)
        metadata[f"value_per_order_{currency}"] = _number(total.per_order)
    if report.currencies:
        main = max(report.currencies, key=lambda currency: (report.total(currency).customers, currency))
        buckets = sorted(report.by_channels[main].items())
        metadata.update(
            chart_metadata(
                "customer_lifetime_value",
                f"Value per customer ({main}) by number of channels",
                [n for n, _ in buckets],
                [bucket.per_customer or 0 for _, bucket in buckets],
                f" {main}",
            )
        )
    return metadata


def ropo_metadata(conn: Connection, settings: KpiSettings) -> Metadata:
    """Share of offline purchases with online research by the same customer in the window before."""
    report = ropo(conn, settings)
    research = report.research_rows()
    return {
        "ropo_share": _number(report.ropo_share),
        "offline_purchases": report.purchases,
        "ropo_purchases": report.ropo_purchases,
        "unidentified_offline_purchases": report.unidentified_purchases,
        "window_days": report.window_days,
        "by_offline_channel": markdown_table(report.rows()),
        "research_channels": markdown_table(research),
        **chart_metadata(
            "ropo_share",
            "Online channels before ROPO purchases",
            [row["online_channel"] for row in research],
            [row["ropo_purchases"] for row in research],
        ),
    }


@dataclass(frozen=True)
class KpiSpec:
    """One KPI asset: its name, what it measures, what it reads and how its metadata is computed."""

    name: str
    description: str
    value_key: str
    compute: Callable[..., Metadata]  # (conn, settings), or (service report) for the service KPIs
    reads: tuple[str, ...]


KPIS = (
    KpiSpec(
        "channel_mix",
        "Share of unified customers active on two channels or more, and customers by number of channels used.",
        "multichannel_share",
        channel_mix_metadata,
        ("unified_customers", "customer_timeline", "orders"),
    ),
    KpiSpec(
        "satisfaction",
        "CSAT (share of 1-5 scores at or above the satisfied mark) and NPS (0-10 scores), for single- and "
        "multi-channel customers.",
        "csat",
        satisfaction_metadata,
        ("unified_customers", "customer_timeline", "orders"),
    ),
    KpiSpec(
        "customer_lifetime_value",
        "Order revenue per unified customer in each currency: total, per customer, per order, by channels used.",
        "value_per_customer_<currency>",
        lifetime_value_metadata,
        ("unified_customers", "customer_timeline", "orders"),
    ),
    KpiSpec(
        "ropo_share",
        "Share of offline purchases preceded within the window by an online interaction of the same customer "
        "(research online, purchase offline).",
        "ropo_share",
        ropo_metadata,
        ("customer_timeline",),
    ),
)


# Both service KPIs come from one pass over the service contacts, so they are materialized together.
SERVICE_KPIS = (
    KpiSpec(
        "repeat_contact_rate",
        "Share of service contacts repeating, on another channel and within the window, a contact of the same "
        "customer about the same case, order or subject family: customers who had to repeat themselves.",
        "repeat_contact_rate",
        repeat_contact_metadata,
        ("customer_timeline",),
    ),
    KpiSpec(
        "first_contact_resolution",
        "Share of resolved service threads (cases, tickets, mail threads, calls) resolved with a single customer "
        "contact and no repeat contact about the same issue within the window.",
        "first_contact_resolution",
        first_contact_resolution_metadata,
        ("customer_timeline",),
    ),
)


INPUTS_KEY = "inputs_fingerprint"
REUSED_KEY = "unchanged_since_last_run"
_last_fingerprint: dict[str, str] = {}


def run_fingerprint(context: AssetExecutionContext, store: Store, settings: KpiSettings) -> str:
    """The fingerprint of the KPIs' inputs, worked out once per run (no KPI step writes what the KPIs read)."""
    run_id = context.run.run_id
    if run_id not in _last_fingerprint:
        with store.engine.connect() as conn:
            fingerprint = inputs_fingerprint(conn, settings)
        _last_fingerprint.clear()
        _last_fingerprint[run_id] = fingerprint
    return _last_fingerprint[run_id]


def unchanged_metadata(context: AssetExecutionContext, key: AssetKey, fingerprint: str) -> Metadata | None:
    """The last materialization's metadata when it was worked out from the same inputs (never in a full sync).

    Same inputs, same figures: an incremental sync after which nothing the KPIs read changed shows them again.
    """
    if is_full_refresh(context):
        return None
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    metadata = dict(event.asset_materialization.metadata)
    stored = metadata.get(INPUTS_KEY)
    if stored is None or getattr(stored, "value", stored) != fingerprint:
        return None
    return {**metadata, REUSED_KEY: True}


def _deps(spec: KpiSpec, translator: CanalisTranslator) -> list[AssetKey]:
    named = {"unified_customers": UNIFIED_CUSTOMERS, "customer_timeline": CUSTOMER_TIMELINE}
    return [named.get(table) or translator.canonical_key(table) for table in spec.reads]


def _build(spec: KpiSpec, settings: KpiSettings, translator: CanalisTranslator) -> AssetsDefinition:
    @asset(
        key=kpi_key(spec.name),
        group_name=KPI_GROUP,
        kinds={"sql"},
        deps=_deps(spec, translator),
        required_resource_keys={"store"},
        description=spec.description,
        metadata={"kpi": spec.name, "value_key": spec.value_key},
    )
    def kpi_asset(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        fingerprint = run_fingerprint(context, store, settings)
        metadata = unchanged_metadata(context, kpi_key(spec.name), fingerprint)
        if metadata is None:
            with store.engine.connect() as conn:
                metadata = {**spec.compute(conn, settings), INPUTS_KEY: fingerprint, REUSED_KEY: False}
        return MaterializeResult(metadata=metadata)

    return kpi_asset


def _build_service(settings: KpiSettings, translator: CanalisTranslator) -> AssetsDefinition:
    specs = [
        AssetSpec(
            key=kpi_key(spec.name),
            group_name=KPI_GROUP,
            kinds={"sql"},
            deps=_deps(spec, translator),
            description=spec.description,
            metadata={"kpi": spec.name, "value_key": spec.value_key},
        )
        for spec in SERVICE_KPIS
    ]

    @multi_asset(name="service_kpis", specs=specs, required_resource_keys={"store"})
    def service_kpi_assets(context: AssetExecutionContext):
        store = context.resources.store.get_store()
        fingerprint = run_fingerprint(context, store, settings)
        kept = {spec.name: unchanged_metadata(context, kpi_key(spec.name), fingerprint) for spec in SERVICE_KPIS}
        if any(metadata is None for metadata in kept.values()):
            with store.engine.connect() as conn:
                report = service_kpis(conn, settings)
            kept = {
                spec.name: {**spec.compute(report), INPUTS_KEY: fingerprint, REUSED_KEY: False} for spec in SERVICE_KPIS
            }
        for spec in SERVICE_KPIS:
            yield MaterializeResult(asset_key=kpi_key(spec.name), metadata=kept[spec.name])

    return service_kpi_assets


def build_kpi_assets(config: CanalisConfig, translator: CanalisTranslator) -> list[AssetsDefinition]:
    """One asset per KPI, in group `kpis`; the `kpis` section of the connections file is validated here."""
    settings = config.kpis
    return [*(_build(spec, settings, translator) for spec in KPIS), _build_service(settings, translator)]
