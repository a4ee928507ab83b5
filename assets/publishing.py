"""Publishing assets: a plan per entity, shown like a terraform plan, and the apply step behind an approval."""

from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from canalis.assets.metadata import markdown_table
from canalis.assets.resources import resource_key
from canalis.assets.translator import CanalisTranslator
from canalis.assets.unified import UNIFIED_CUSTOMERS
from canalis.config.connections import CanalisConfig
from canalis.publishing.apply import ApplyReport, apply_plan, reread_streams
from canalis.publishing.plan import Plan, build_plan, display
from canalis.publishing.policy import PublishConfig, load_publish_config
from canalis.publishing.suppression import consent_pauses
from canalis.store.schema import metadata as store_metadata

APPROVE_TAG = "canalis/approve"
GROUP = "publish"
PLAN_PREVIEW_ROWS = 200
PLANS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # asset name: (description, entities, canonical tables it reads)
    "price_plan": ("Price changes each channel needs to match its price list.", ("prices",), ("prices",)),
    "stock_plan": (
        "Stock changes each channel needs: on hand less reserved less buffer.",
        ("stock_levels",),
        ("stock_levels",),
    ),
    "promotion_plan": ("Promotion codes to create or correct in each channel.", ("promotions",), ("promotions",)),
    "suppression_plan": (
        "Consent changes: opt-outs propagated everywhere and promotional email paused during open complaints.",
        ("consents",),
        ("consents", "interactions", "customer_records"),
    ),
}
PUBLISH_APPLY = AssetKey("publish_apply")


class ApproveConfig(Config):
    """Run config of publish_apply."""

    approve: bool = False


def plan_metadata(plan: Plan) -> dict[str, Any]:
    """A plan as Dagster metadata: the changes as a table (entity, field, old -> new) and counts per channel."""
    rows = [
        {
            "channel": change.channel,
            "entity": change.entity,
            "key": change.key,
            "field": change.field,
            "change": f"{display(change.old) or '∅'} -> {display(change.new) or '∅'}",
            "reason": change.reason,
        }
        for change in plan.changes[:PLAN_PREVIEW_ROWS]
    ]
    counts = [
        {"channel": channel, **{entity: count for entity, count in sorted(counter.items())}}
        for channel, counter in sorted(plan.counts().items())
    ]
    return {
        "changes": len(plan.changes),
        "records_to_write": len(plan.records),
        "plan": markdown_table(rows, ["channel", "entity", "key", "field", "change", "reason"]),
        "per_channel": markdown_table(counts),
        "truncated": len(plan.changes) > PLAN_PREVIEW_ROWS,
    }


def apply_metadata(report: ApplyReport) -> dict[str, Any]:
    """What an apply did, for the UI: changes by status, write calls against the minimum, verification."""
    groups = [
        {
            "channel": group.channel,
            "entity": group.entity,
            "changes": group.changes,
            "records": group.records,
            "batch_size": group.batch_size,
            "write_calls": group.write_calls,
            "minimum_calls": group.minimum_calls,
            **dict(group.statuses),
        }
        for group in report.groups
    ]
    not_stuck = [
        {"channel": c.channel, "entity": c.entity, "key": c.key, "field": c.field, "now": display(c.old)}
        for c in report.not_stuck
    ]
    verification = {None: "not run", True: "every applied change read back"}.get(
        report.verified, f"{len(report.not_stuck)} changes did not stick"
    )
    return {
        "writes_planned": report.planned,
        "applied": report.count("applied"),
        "unchanged": report.count("unchanged"),
        "failed": report.count("failed"),
        "skipped": report.count("skipped"),
        "quarantined": report.quarantined,
        "retryable_failures": report.retryable_failures,
        "write_calls": report.write_calls,
        "minimum_write_calls": report.minimum_calls,
        "by_stream": markdown_table(groups),
        "verification": verification,
        "not_stuck": markdown_table(not_stuck),
    }


def build_publish_assets(
    config: CanalisConfig,
    translator: CanalisTranslator,
    *,
    clock: Callable[[], datetime] | None = None,
) -> tuple[list[AssetsDefinition], list[AssetChecksDefinition]]:
    """The plan assets, publish_apply and its check, for the connections' publish section."""
    publish = load_publish_config(config)
    now = clock or (lambda: datetime.now(UTC))
    assets: list[AssetsDefinition] = [
        _plan_asset(name, description, entities, tables, publish, translator, now)
        for name, (description, entities, tables) in PLANS.items()
    ]
    assets.append(_apply_asset(config, publish, now))
    return assets, [_apply_check()]


def _plan_asset(
    name: str,
    description: str,
    entities: tuple[str, ...],
    tables: tuple[str, ...],
    publish: PublishConfig,
    translator: CanalisTranslator,
    now: Callable[[], datetime],
) -> AssetsDefinition:
    deps = [translator.canonical_key(table) for table in tables] + [UNIFIED_CUSTOMERS]

    @asset(
        name=name,
        group_name=GROUP,
        deps=deps,
        kinds={"python"},
        description=description,
        required_resource_keys={"store"},
    )
    def _plan(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        store_metadata.create_all(store.engine, tables=[consent_pauses])
        with store.begin() as conn:
            plan = build_plan(conn, publish, now(), entities)
        context.log.info(f"{name}: {len(plan.changes)} changes on {len(plan.records)} records")
        return MaterializeResult(metadata=plan_metadata(plan))

    return _plan


def _apply_asset(config: CanalisConfig, publish: PublishConfig, now: Callable[[], datetime]) -> AssetsDefinition:
    canalis_config = config
    channels = sorted(publish.channels)
    resources = {"store"} | {resource_key(channel) for channel in channels}

    @asset(
        key=PUBLISH_APPLY,
        group_name=GROUP,
        deps=[AssetKey(name) for name in PLANS],
        kinds={"python"},
        description="Writes the plans to the channels (when approved), audits every change and reads back what stuck.",
        required_resource_keys=resources,
    )
    def _apply(context: AssetExecutionContext, config: ApproveConfig) -> MaterializeResult:
        requested = config.approve or context.run.tags.get(APPROVE_TAG, "").lower() == "true"
        if not publish.approved(requested):
            reason = "plan mode" if publish.mode == "plan" else "approval required"
            context.log.info(f"publish skipped: {reason}")
            return MaterializeResult(metadata={"status": f"skipped: {reason}", "writes_planned": 0, "write_calls": 0})
        store = context.resources.store.get_store()
        store_metadata.create_all(store.engine, tables=[consent_pauses])
        with store.begin() as conn:
            plan = build_plan(conn, publish, now())
        needed = sorted({change.channel for change in plan.changes})
        with ExitStack() as opened:
            connectors = {
                channel: opened.enter_context(getattr(context.resources, resource_key(channel)).build())
                for channel in needed
            }
            run_id = context.run.run_id
            verify = reread_streams(store, canalis_config, connectors, run_id)
            report = apply_plan(store, publish, plan, connectors, run_id, verify=verify)
        return MaterializeResult(metadata={"status": MetadataValue.text("applied"), **apply_metadata(report)})

    return _apply


def _apply_check() -> AssetChecksDefinition:
    @asset_check(
        asset=PUBLISH_APPLY,
        name="writes_stuck",
        description="Every change publish_apply wrote reads back from the channel.",
    )
    def writes_stuck(context) -> AssetCheckResult:
        event = context.instance.get_latest_materialization_event(PUBLISH_APPLY)
        meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
        verification = meta.get("verification")
        text = str(verification.value) if verification is not None else "not run"
        failed = meta.get("failed")
        failures = int(failed.value) if failed is not None else 0
        return AssetCheckResult(
            passed=not text.endswith("did not stick") and failures == 0,
            severity=AssetCheckSeverity.WARN,
            metadata={"verification": text, "failed": failures},
        )

    return writes_stuck
