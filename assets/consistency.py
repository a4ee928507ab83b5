"""Consistency assets: the `inconsistencies` asset (every rule run, lifecycle recorded) and one check per rule.

The checks sit on the `inconsistencies` asset rather than on the canonical tables: most rules read several tables
(prices of every channel and the system of record, consents and cases of one unified customer), and all of them need
the customers unified first. Each check reads the open inconsistencies the asset has just recorded, so a rule runs
once per materialisation and its check shows the same cases the asset does.
"""

from collections import Counter
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    asset,
    asset_check,
)
from sqlalchemy import case, select

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import counter_table, markdown_table
from canalis.assets.translator import CanalisTranslator
from canalis.assets.unified import UNIFIED_CUSTOMERS
from canalis.canonical.entities import ENTITIES
from canalis.config.connections import CanalisConfig
from canalis.connectors.registry import RegisteredConnector, discover
from canalis.consistency import CATALOGUE, ConsistencySettings, Rule, check_consistency, enabled_rules, settings_for
from canalis.consistency.tables import inconsistencies
from canalis.store import Store

INCONSISTENCIES = AssetKey("inconsistencies")
CONSISTENCY_GROUP = "consistency"
CASE_COLUMNS = ("severity", "code", "entity_key", "channels", "occurrences", "first_seen_at", "details")


def build_consistency_assets(
    config: CanalisConfig,
    translator: CanalisTranslator,
    *,
    registry: dict[str, RegisteredConnector] | None = None,
) -> tuple[list[AssetsDefinition], list[AssetChecksDefinition]]:
    """The `inconsistencies` asset and one asset check per enabled rule; nothing when no rule has its tables."""
    settings = settings_for(config)
    produced = _canonical_tables(config, registry)
    rules = [rule for rule in enabled_rules(settings) if set(rule.tables) & produced]
    if not rules:
        return [], []
    needed = sorted({table for rule in rules for table in rule.tables} & produced)
    deps = [translator.canonical_key(table) for table in needed]
    if "customer_records" in produced:
        deps.append(UNIFIED_CUSTOMERS)
    codes = [rule.code for rule in rules]

    @asset(
        key=INCONSISTENCIES,
        group_name=CONSISTENCY_GROUP,
        kinds={"sql"},
        deps=deps,
        required_resource_keys={"store"},
        description="Cross-channel inconsistencies: prices, stock and promotions against the system of record, and "
        "conflicting customer data across systems; opened, seen again and closed run after run.",
        metadata={"table": "inconsistencies", "rules": ", ".join(codes)},
        pool="canalis_consistency",
    )
    def _inconsistencies(context: AssetExecutionContext) -> MaterializeResult:
        store: Store = context.resources.store.get_store()
        run_settings = settings.model_copy(
            update={"disabled_rules": [*settings.disabled_rules, *(r.code for r in CATALOGUE if r.code not in codes)]}
        )
        with store.lock("consistency"):
            report = check_consistency(store, run_settings, run_id=context.run.run_id, full=is_full_refresh(context))
        counts = report.lifecycle.counts()
        checked = "every customer" if report.customers_checked is None else f"{report.customers_checked} customers"
        context.log.info(
            f"{len(report.findings)} inconsistencies found ({checked} checked): {counts['opened']} opened, "
            f"{counts['still_open']} still open, {counts['closed']} closed"
        )
        open_rows = open_cases(store)
        return MaterializeResult(
            metadata={
                "found": len(report.findings),
                "customers_checked": "all" if report.customers_checked is None else report.customers_checked,
                "opened": counts["opened"],
                "reopened": counts["reopened"],
                "still_open": counts["still_open"],
                "closed": counts["closed"],
                "errors": report.by_severity().get("error", 0),
                "warnings": report.by_severity().get("warn", 0),
                "by_code": counter_table(report.by_code(), "rule", "found"),
                "by_severity": counter_table(report.by_severity(), "severity", "found"),
                "worst_cases": markdown_table(
                    [_case(row) for row in open_rows[: settings.max_worst_cases]], CASE_COLUMNS
                ),
                "dagster/row_count": len(open_rows),
            }
        )

    checks = [build_rule_check(rule, settings) for rule in rules]
    return [_inconsistencies], checks


def build_rule_check(rule: Rule, settings: ConsistencySettings) -> AssetChecksDefinition:
    """A check on the `inconsistencies` asset that fails while the rule has open inconsistencies."""
    severity = settings.severity_of(rule.code, rule.severity)

    @asset_check(
        asset=INCONSISTENCIES,
        name=rule.code,
        required_resource_keys={"store"},
        description=f"No open `{rule.code}` inconsistency ({severity}): {rule.description}",
    )
    def _check(context) -> AssetCheckResult:
        store: Store = context.resources.store.get_store()
        rows = open_cases(store, rule.code)
        return AssetCheckResult(
            passed=not rows,
            severity=AssetCheckSeverity.ERROR if severity == "error" else AssetCheckSeverity.WARN,
            metadata={
                "open": len(rows),
                "by_channel": counter_table(
                    Counter(channel for row in rows for channel in row["channels"]), "channel", "open"
                ),
                "worst_cases": markdown_table([_case(row) for row in rows[: settings.max_worst_cases]], CASE_COLUMNS),
            },
        )

    return _check


def open_cases(store: Store, code: str | None = None) -> list[dict[str, Any]]:
    """Open inconsistencies, worst first: errors, then the longest open, then the most often seen."""
    t = inconsistencies
    query = (
        select(t)
        .where(t.c.status == "open")
        .order_by(case((t.c.severity == "error", 0), else_=1), t.c.first_seen_at, t.c.occurrences.desc(), t.c.code)
    )
    if code is not None:
        query = query.where(t.c.code == code)
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _case(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row.get(column) for column in CASE_COLUMNS}


def _canonical_tables(config: CanalisConfig, registry: dict[str, RegisteredConnector] | None) -> set[str]:
    """Canonical tables some enabled connection fills."""
    from canalis.config.wiring import build_mappers, canonical_feeds

    registry = registry if registry is not None else discover()
    feeds = canonical_feeds(config, registry, build_mappers(config, registry))
    return {ENTITIES[entity].primary_table for entity in feeds}
