"""Publishing assets.

In the sync jobs, the plan assets (`price_plan`, `stock_plan`, `promotion_plan`, `suppression_plan`) compute one
plan from the store, store it for review (approved at once when the policy approves) and show it. The `publish`
job applies one approved plan: `approved_plan` names it (and may carry its approval: the plan id and content
hash from the review), blocking checks gate it (quarantine, open critical inconsistencies, circuit breaker), and
`publish_apply` writes exactly its changes, audits each one and reads back what stuck.
"""

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
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)
from pydantic import Field

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import markdown_table
from canalis.assets.resources import resource_key
from canalis.assets.translator import CanalisTranslator
from canalis.assets.unified import UNIFIED_CUSTOMERS
from canalis.config.connections import CanalisConfig
from canalis.config.wiring import build_mappers
from canalis.deploy.write_slots import write_slots
from canalis.publishing.apply import ApplyReport, PlanMoved, apply_stored_plan
from canalis.publishing.gates import GateResult, circuit_breaker, inconsistency_gate, quarantine_gate
from canalis.publishing.plan import ENTITIES, Plan, display
from canalis.publishing.plans import (
    PlanError,
    StoredPlan,
    approve_plan,
    check_hash,
    latest_plan,
    load_plan,
    plan_changes,
    propose_plan,
)
from canalis.publishing.policy import PublishConfig, load_publish_config
from canalis.publishing.reconcile import reconcile_sent, unresolved_channels
from canalis.store import Store

APPROVER_TAG = "dagster/user"
GROUP = "publish"
PLAN_PREVIEW_ROWS = 200
PLANS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # asset name: (description, entity, canonical tables it reads)
    "price_plan": ("Price changes each channel needs to match its price list.", "prices", ("prices",)),
    "stock_plan": (
        "Stock changes each channel needs: on hand less reserved less buffer.",
        "stock_levels",
        ("stock_levels",),
    ),
    "promotion_plan": ("Promotion codes to create or correct in each channel.", "promotions", ("promotions",)),
    "suppression_plan": (
        "Consent changes: opt-outs propagated everywhere and promotional email paused during open complaints.",
        "consents",
        ("consents", "interactions", "customer_records"),
    ),
}
APPROVED_PLAN = AssetKey("approved_plan")
PUBLISH_APPLY = AssetKey("publish_apply")
PUBLISH_ASSETS = (APPROVED_PLAN, PUBLISH_APPLY)


class PlanChoice(Config):
    """Which plan the publish run applies; from a review, give the id and the content hash you reviewed."""

    plan_id: str | None = Field(default=None, description="the plan to apply; empty: the newest approved plan")
    plan_hash: str | None = Field(default=None, description="its content hash as reviewed (at least 8 characters)")
    approve: bool = Field(default=False, description="approve the plan (proposed) as this run starts")


def changes_metadata(plan: Plan, entity: str) -> dict[str, Any]:
    """One entity's part of a plan as Dagster metadata: the changes as a table and counts per channel."""
    changes = [change for change in plan.changes if change.entity == entity]
    rows = [
        {
            "channel": change.channel,
            "key": change.key,
            "field": change.field,
            "change": f"{display(change.old) or '∅'} -> {display(change.new) or '∅'}",
            "reason": change.reason,
        }
        for change in changes[:PLAN_PREVIEW_ROWS]
    ]
    per_channel: dict[str, int] = {}
    for change in changes:
        per_channel[change.channel] = per_channel.get(change.channel, 0) + 1
    return {
        "changes": len(changes),
        "records_to_write": len({(c.channel, c.key) for c in changes}),
        "plan": markdown_table(rows, ["channel", "key", "field", "change", "reason"]),
        "per_channel": markdown_table([{"channel": c, "changes": n} for c, n in sorted(per_channel.items())]),
        "truncated": len(changes) > PLAN_PREVIEW_ROWS,
    }


def stored_plan_metadata(stored: StoredPlan | None) -> dict[str, Any]:
    """A stored plan's identity and status, for the UI."""
    if stored is None:
        return {"plan_id": "", "plan_status": "nothing to change"}
    return {
        "plan_id": stored.plan_id,
        "plan_hash": stored.short_hash,
        "plan_status": stored.status,
        "plan_decided_by": stored.decided_by or "",
        "plan_changes": stored.changes,
        "plan_records": stored.records,
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
        {"channel": c.channel, "entity": c.entity, "key": c.record_key, "field": c.field, "wanted": c.new_value}
        for c in report.not_stuck
    ]
    verification = {None: "not run", True: "every applied change read back"}.get(
        report.verified, f"{len(report.not_stuck)} changes did not stick"
    )
    return {
        "plan_id": report.plan_id,
        "plan_status": report.status,
        "writes_planned": report.planned,
        "applied": report.count("applied"),
        "unchanged": report.count("unchanged"),
        "already_there": report.already_there,
        "failed": report.count("failed") + report.count("skipped"),
        "deferred": report.count("deferred"),
        "quarantined": report.quarantined,
        "write_calls": report.write_calls,
        "minimum_write_calls": report.minimum_calls,
        "by_stream": markdown_table(groups),
        "verification": verification,
        "not_stuck": markdown_table(not_stuck),
        "errors": "\n".join(report.errors),
    }


def build_publish_assets(
    config: CanalisConfig,
    translator: CanalisTranslator,
    *,
    clock: Callable[[], datetime] | None = None,
) -> tuple[list[AssetsDefinition], list[AssetChecksDefinition]]:
    """The plan assets (sync jobs), `approved_plan`, its gates and `publish_apply` (publish job)."""
    publish = load_publish_config(config)
    now = clock or (lambda: datetime.now(UTC))
    assets = [_plan_assets(publish, translator, now), _approved_plan_asset(publish, now), _apply_asset(config, now)]
    checks = [*_gate_checks(publish), _apply_check()]
    return assets, checks


def _plan_assets(
    publish: PublishConfig, translator: CanalisTranslator, now: Callable[[], datetime]
) -> AssetsDefinition:
    specs = [
        AssetSpec(
            key=AssetKey(name),
            group_name=GROUP,
            deps=[translator.canonical_key(table) for table in tables] + [UNIFIED_CUSTOMERS],
            kinds={"python"},
            description=f"{description} Stored with the other entities' changes as one plan for review.",
        )
        for name, (description, _, tables) in PLANS.items()
    ]

    @multi_asset(name="publish_plan", specs=specs, required_resource_keys={"store"}, pool="canalis_plans")
    def _plans(context: AssetExecutionContext):
        store: Store = context.resources.store.get_store()
        with store.lock("publish"), store.begin() as conn:
            plan, stored = propose_plan(
                conn,
                publish,
                created_by=f"run:{context.run.run_id}",
                now=now(),
                incremental=not is_full_refresh(context),
            )
        identity = stored_plan_metadata(stored)
        context.log.info(
            f"plan {identity['plan_id'] or '(none)'}: {len(plan.changes)} changes on {len(plan.records)} records, "
            f"{identity['plan_status']}"
        )
        for name, (_, entity, _) in PLANS.items():
            yield MaterializeResult(asset_key=AssetKey(name), metadata={**identity, **changes_metadata(plan, entity)})

    return _plans


def _approved_plan_asset(publish: PublishConfig, now: Callable[[], datetime]) -> AssetsDefinition:
    @asset(
        key=APPROVED_PLAN,
        group_name=GROUP,
        deps=[AssetKey(name) for name in PLANS],
        kinds={"python"},
        required_resource_keys={"store"},
        description="The plan this publish run applies: the one named in its config (approved here when asked, "
        "with the reviewed content hash), else the newest approved plan. Gated by blocking checks.",
    )
    def approved_plan(context: AssetExecutionContext, config: PlanChoice) -> MaterializeResult:
        store: Store = context.resources.store.get_store()
        approver = context.run.tags.get(APPROVER_TAG) or f"run:{context.run.run_id}"
        try:
            with store.begin() as conn:
                plan = _choose(conn, config, approver, now())
        except PlanError as error:
            raise Failure(description=str(error)) from None
        if plan is None:
            context.log.info("no approved plan to apply")
            return MaterializeResult(metadata={"plan_id": "", "plan_status": "nothing to apply"})
        with store.engine.connect() as conn:
            changes = plan_changes(conn, plan.plan_id)
        rows = [
            {"channel": c.channel, "entity": c.entity, "key": c.record_key, "field": c.field, "status": c.status}
            | {"change": f"{c.old_value or '∅'} -> {c.new_value or '∅'}"}
            for c in changes[:PLAN_PREVIEW_ROWS]
        ]
        counts = [{"channel": ch, **entities} for ch, entities in sorted(plan.counts.items())]
        return MaterializeResult(
            metadata={
                **stored_plan_metadata(plan),
                "plan_created_by": plan.created_by,
                "plan_created_at": plan.created_at.isoformat(),
                "per_channel": markdown_table(counts),
                "changes_table": markdown_table(rows),
            }
        )

    return approved_plan


def _choose(conn, choice: PlanChoice, approver: str, now: datetime) -> StoredPlan | None:
    if choice.plan_id is None:
        if choice.approve or choice.plan_hash:
            raise PlanError("give the plan_id with plan_hash or approve")
        return latest_plan(conn, "approved")
    plan = load_plan(conn, choice.plan_id)
    check_hash(plan, choice.plan_hash)
    if choice.approve:
        if choice.plan_hash is None:
            raise PlanError("approving from a run needs the plan's content hash as reviewed (plan_hash)")
        plan = approve_plan(conn, plan.plan_id, approver, expected_hash=choice.plan_hash, now=now)
    return plan


def _chosen_plan(context) -> str | None:
    """The plan `approved_plan` chose in this run (None when it chose none)."""
    event = context.instance.get_latest_materialization_event(APPROVED_PLAN)
    if event is None or event.run_id != context.run.run_id or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("plan_id")
    return str(value.value) if value is not None and value.value else None


def _gate_checks(publish: PublishConfig) -> list[AssetChecksDefinition]:
    def gate(name: str, description: str, evaluate: Callable[[Any, StoredPlan], GateResult]) -> AssetChecksDefinition:
        @asset_check(
            asset=APPROVED_PLAN,
            name=name,
            blocking=True,
            required_resource_keys={"store"},
            description=description,
        )
        def _gate(context) -> AssetCheckResult:
            plan_id = _chosen_plan(context)
            if plan_id is None:
                return AssetCheckResult(passed=True, metadata={"gate": "no plan to apply"})
            store: Store = context.resources.store.get_store()
            with store.engine.connect() as conn:
                result = evaluate(conn, load_plan(conn, plan_id))
            return AssetCheckResult(
                passed=result.passed,
                severity=AssetCheckSeverity.ERROR,
                description=result.summary,
                metadata={"plan_id": plan_id, "gate": result.summary, **result.figures}
                | {"details": markdown_table(result.rows)},
            )

        return _gate

    gates = publish.gates
    return [
        gate(
            "quarantine_gate",
            f"Publishing stops while more than {gates.max_quarantine_share:.0%} of the plan's channels' and systems "
            "of record's records are held in quarantine.",
            lambda conn, plan: quarantine_gate(conn, plan, publish),
        ),
        gate(
            "inconsistency_gate",
            f"Publishing stops while a rule has more open errors than its limit (default {gates.max_open_errors}).",
            lambda conn, plan: inconsistency_gate(conn, publish),
        ),
        gate(
            "circuit_breaker",
            f"Publishing stops when the plan would change more than {gates.max_change_share:.0%} of a channel's "
            "prices or stock at once (set per channel with publish.channels.<name>.max_change_share).",
            lambda conn, plan: circuit_breaker(conn, plan, publish),
        ),
    ]


def _apply_asset(canalis_config: CanalisConfig, now: Callable[[], datetime]) -> AssetsDefinition:
    publish = load_publish_config(canalis_config)
    channels = sorted(publish.channels)
    resources = {"store"} | {resource_key(channel) for channel in channels}

    @asset(
        key=PUBLISH_APPLY,
        group_name=GROUP,
        deps=[APPROVED_PLAN],
        kinds={"python"},
        description="Writes exactly the approved plan's changes to the channels, announcing each batch in the audit "
        "before sending it, skipping what a channel already shows, and reads back what stuck.",
        required_resource_keys=resources,
        pool="canalis_publish",
    )
    def _apply(context: AssetExecutionContext) -> MaterializeResult:
        plan_id = _chosen_plan(context)
        store: Store = context.resources.store.get_store()
        if plan_id is None:
            settled = _settle_unresolved(context, store)
            return MaterializeResult(
                metadata={"plan_id": "", "plan_status": "nothing to apply", "writes_planned": 0, **settled}
            )
        with store.engine.connect() as conn:
            plan = load_plan(conn, plan_id)
        needed = sorted((set(plan.counts) | unresolved_channels(store)) & set(channels))
        mappers = build_mappers(canalis_config)
        with ExitStack() as opened:
            held = opened.enter_context(
                write_slots(
                    context.instance,
                    context.run,
                    context.get_step_execution_context().step.key,
                    needed,
                    waiting=lambda pool: context.log.info(f"waiting for a slot in {pool}"),
                )
            )
            connectors = {
                channel: opened.enter_context(getattr(context.resources, resource_key(channel)).build())
                for channel in needed
            }
            try:
                with store.lock("publish"):  # plans are made and applied one at a time
                    report = apply_stored_plan(
                        store, publish, plan_id, connectors, mappers, run_id=context.run.run_id, now=now()
                    )
            except PlanMoved as moved:
                raise Failure(
                    description=str(moved), metadata={"plan_id": plan_id, "moved": len(moved.moved)}
                ) from None
            except PlanError as error:
                raise Failure(description=str(error), metadata={"plan_id": plan_id}) from None
        return MaterializeResult(
            metadata={
                "status": MetadataValue.text(report.status),
                "write_pools": ", ".join(held),
                **apply_metadata(report),
            }
        )

    def _settle_unresolved(context: AssetExecutionContext, store: Store) -> dict[str, int]:
        """With no plan to apply, still read back the writes a dead run announced and never settled."""
        needed = sorted(unresolved_channels(store) & set(channels))
        if not needed:
            return {}
        with ExitStack() as opened:
            connectors = {
                channel: opened.enter_context(getattr(context.resources, resource_key(channel)).build())
                for channel in needed
            }
            with store.lock("publish"):
                counts = reconcile_sent(
                    store, publish, connectors, build_mappers(canalis_config), run_id=context.run.run_id, now=now()
                )
        return {f"writes_read_back_{status.replace(' ', '_')}": count for status, count in sorted(counts.items())}

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


__all__ = ["ENTITIES", "PUBLISH_ASSETS", "build_publish_assets"]
