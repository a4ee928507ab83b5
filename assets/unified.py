"""Unified assets: customers resolved across channels, and the cross-channel interaction timeline."""

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
from sqlalchemy import Connection, exists, func, select

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import counter_table, markdown_table
from canalis.assets.translator import CanalisTranslator
from canalis.identity import IdentityConfig
from canalis.identity.persistence import resolve_customers
from canalis.store import tables
from canalis.timeline import attach_interactions

UNIFIED_CUSTOMERS = AssetKey("unified_customers")
CUSTOMER_TIMELINE = AssetKey("customer_timeline")


def build_unified_assets(
    translator: CanalisTranslator, identity: IdentityConfig, has_interactions: bool
) -> list[AssetsDefinition]:
    """The unified customers asset, and the timeline when some source has interactions."""

    @asset(
        key=UNIFIED_CUSTOMERS,
        group_name=translator.unified_group(),
        kinds={"sql"},
        deps=[translator.canonical_key("customer_records")],
        required_resource_keys={"store"},
        description="One golden record per person: source customer records resolved across every channel.",
        metadata={"table": "customers"},
        pool="canalis_identity",
    )
    def unified_customers(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        with store.lock("identity"):  # one resolution at a time on a store, whichever process runs it
            report = resolve_customers(store.engine, config=identity, full=is_full_refresh(context))
        with store.engine.connect() as conn:
            preview = [
                dict(row._mapping)
                for row in conn.execute(
                    select(
                        tables.customers.c.customer_id,
                        tables.customers.c.given_name,
                        tables.customers.c.family_name,
                        tables.customers.c.email,
                        tables.customers.c.phone,
                        tables.customers.c.city,
                        tables.customers.c.record_count,
                        tables.customers.c.sources,
                    )
                    .order_by(tables.customers.c.record_count.desc(), tables.customers.c.customer_id)
                    .limit(10)
                )
            ]
        metadata: dict = dict(report.to_metadata())
        metadata.update(
            {
                "dagster/row_count": store.count(tables.customers),
                "records_resolved": report.records_resolved,
                "customers": report.customers_total,
                "preview": markdown_table(preview),
                "links_by_rule": counter_table(report.links_by_rule, "rule", "links"),
                "flagged_clusters_table": markdown_table(report.flagged_clusters[:20]),
            }
        )
        return MaterializeResult(metadata=metadata)

    assets_built: list[AssetsDefinition] = [
        unified_customers,
        build_identity_links_asset(translator),
        build_proposed_merges_asset(translator),
    ]
    if has_interactions:

        @asset(
            key=CUSTOMER_TIMELINE,
            group_name=translator.unified_group(),
            kinds={"sql"},
            deps=[UNIFIED_CUSTOMERS, translator.canonical_key("interactions")],
            required_resource_keys={"store"},
            description="Every interaction attached to its unified customer, in time order across channels.",
            metadata={"table": "interactions"},
            pool="canalis_identity",
        )
        def customer_timeline(context: AssetExecutionContext) -> MaterializeResult:
            store = context.resources.store.get_store()
            report = attach_interactions(store, full=is_full_refresh(context))
            store.analyze_written()
            return MaterializeResult(
                metadata={
                    "interactions": report.interactions,
                    "attached": report.attached,
                    "unattached": report.unattached,
                    "ambiguous_email": report.ambiguous,
                    "customers_with_interactions": report.customers_with_interactions,
                    "multichannel_customers": report.multichannel_customers,
                    "channel_switches": report.channel_switches,
                    "by_channel": counter_table(report.by_channel, "channel", "interactions"),
                    "example_timeline": markdown_table(report.example),
                    "dagster/row_count": report.interactions,
                }
            )

        assets_built.append(customer_timeline)
    return assets_built


def build_unified_checks(max_cluster_size: int, max_unresolved_share: float) -> list[AssetChecksDefinition]:
    """Data-quality checks on the unified customers: cluster-size alarm and share of unresolved records."""

    @asset_check(
        asset=UNIFIED_CUSTOMERS,
        name="cluster_size_alarm",
        required_resource_keys={"store"},
        description=f"No unified customer gathers more than {max_cluster_size} source records.",
    )
    def cluster_size_alarm(context) -> AssetCheckResult:
        store = context.resources.store.get_store()
        c = tables.customers
        with store.engine.connect() as conn:
            largest = conn.execute(select(func.max(c.c.record_count))).scalar() or 0
            oversized = conn.execute(
                select(c.c.customer_id, c.c.record_count)
                .where(c.c.record_count > max_cluster_size)
                .order_by(c.c.record_count.desc())
                .limit(10)
            ).all()
        return AssetCheckResult(
            passed=not oversized,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "largest_cluster": int(largest),
                "limit": max_cluster_size,
                "oversized": markdown_table([dict(row._mapping) for row in oversized]),
            },
        )

    @asset_check(
        asset=UNIFIED_CUSTOMERS,
        name="unresolved_share",
        required_resource_keys={"store"},
        description="Share of source records that matched no other record (singletons) stays plausible.",
    )
    def unresolved_share(context) -> AssetCheckResult:
        store = context.resources.store.get_store()
        with store.engine.connect() as conn:
            total, singletons, unassigned = unresolved_counts(conn)
        share = singletons / total if total else 0.0
        return AssetCheckResult(
            passed=unassigned == 0 and share <= max_unresolved_share,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "records": total,
                "singletons": singletons,
                "share": round(share, 4),
                "unassigned": unassigned,
            },
        )

    @asset_check(
        asset=PROPOSED_MERGES,
        name="proposed_merges_reviewed",
        required_resource_keys={"store"},
        description="No proposed merge waits for review (`canalis identity review list`).",
    )
    def proposed_merges_reviewed(context) -> AssetCheckResult:
        from canalis.identity.review import proposal_counts

        counts = proposal_counts(context.resources.store.get_store().engine)
        pending = sum(counts.get("pending", {}).values())
        return AssetCheckResult(
            passed=pending == 0,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "pending": pending,
                "pending_by_reason": counter_table(counts.get("pending", {}), "reason", "proposals"),
            },
        )

    return [cluster_size_alarm, unresolved_share, proposed_merges_reviewed]


IDENTITY_LINKS = AssetKey("identity_links")


def build_identity_links_asset(translator: CanalisTranslator) -> AssetsDefinition:
    """The links behind the unified customers, with the rule or score and the evidence of each."""
    from canalis.identity.tables import identity_links

    @asset(
        key=IDENTITY_LINKS,
        group_name=translator.unified_group(),
        kinds={"sql"},
        deps=[UNIFIED_CUSTOMERS],
        required_resource_keys={"store"},
        description=(
            "Why source records are (or are not) the same person: every link with its rule or match probability "
            "and the evidence, including links refused by an over-merge guard."
        ),
        metadata={"table": "identity_links"},
    )
    def identity_links_asset(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        links = identity_links
        with store.engine.connect() as conn:
            by_rule = dict(
                conn.execute(
                    select(links.c.rule, func.count()).where(links.c.status == "accepted").group_by(links.c.rule)
                ).all()
            )
            refused = dict(
                conn.execute(
                    select(links.c.reason, func.count()).where(links.c.status != "accepted").group_by(links.c.reason)
                ).all()
            )
            weakest = [
                dict(row._mapping)
                for row in conn.execute(
                    select(links.c.record_a, links.c.record_b, links.c.rule, links.c.confidence, links.c.status)
                    .where(links.c.status == "accepted")
                    .order_by(links.c.confidence, links.c.record_a, links.c.record_b)
                    .limit(10)
                )
            ]
        return MaterializeResult(
            metadata={
                "accepted_links": sum(by_rule.values()),
                "refused_links": sum(refused.values()),
                "links_by_rule": counter_table({str(k): v for k, v in by_rule.items()}, "rule", "links"),
                "refused_by_guard": counter_table({str(k): v for k, v in refused.items()}, "guard", "links"),
                "weakest_accepted_links": markdown_table(weakest),
                "dagster/row_count": sum(by_rule.values()) + sum(refused.values()),
            }
        )

    return identity_links_asset


PROPOSED_MERGES = AssetKey("identity_proposed_merges")


def build_proposed_merges_asset(translator: CanalisTranslator) -> AssetsDefinition:
    """The merges identity resolution did not apply on its own, waiting for a steward or the review policy."""
    from canalis.identity.review import list_proposals, proposal_counts

    @asset(
        key=PROPOSED_MERGES,
        group_name=translator.unified_group(),
        kinds={"sql"},
        deps=[UNIFIED_CUSTOMERS],
        required_resource_keys={"store"},
        description=(
            "Proposed merges: uncertain scores, links joining two large profiles and weak bridges, not applied "
            "until accepted (`canalis identity review accept|reject`); decisions survive full rebuilds."
        ),
        metadata={"table": "identity_proposed_merges"},
    )
    def identity_proposed_merges(context: AssetExecutionContext) -> MaterializeResult:
        engine = context.resources.store.get_store().engine
        counts = proposal_counts(engine)
        top = [
            {k: row[k] for k in ("proposal_id", "reason", "probability", "customer_a", "customer_b")}
            for row in list_proposals(engine, limit=10)
        ]
        totals = {status: sum(by_reason.values()) for status, by_reason in counts.items()}
        return MaterializeResult(
            metadata={
                "pending": totals.get("pending", 0),
                "accepted": totals.get("accepted", 0),
                "rejected": totals.get("rejected", 0),
                "pending_by_reason": counter_table(counts.get("pending", {}), "reason", "proposals"),
                "most_probable_pending": markdown_table(top),
                "dagster/row_count": sum(totals.values()),
            }
        )

    return identity_proposed_merges


def unresolved_counts(conn: Connection) -> tuple[int, int, int]:
    """Source records assigned to a customer, those alone in theirs, and customer records assigned to none."""
    s = tables.source_identities
    total = conn.execute(select(func.count()).select_from(s)).scalar_one()
    sizes = select(s.c.customer_id, func.count().label("n")).group_by(s.c.customer_id).subquery()
    singletons = conn.execute(select(func.count()).select_from(sizes).where(sizes.c.n == 1)).scalar_one()
    # NOT EXISTS, an anti-join: PostgreSQL runs `NOT IN (subquery)` as a nested scan once the keys outgrow work_mem
    # (over 300 s at 100,000 customers)
    records = tables.customer_records
    unassigned = conn.execute(
        select(func.count()).select_from(records).where(~exists().where(s.c.record_key == records.c.record_key))
    ).scalar_one()
    return total, singletons, unassigned
