"""The canonical assets: every canonical table, filled by one step that maps each changed raw record once, and
the quarantine check on each."""

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    asset_check,
    multi_asset,
)
from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.dialects import sqlite

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import bullet_list, counter_table, markdown_table
from canalis.assets.translator import CanalisTranslator
from canalis.canonical.canonicalize import canonicalize_entities
from canalis.canonical.entities import ENTITIES, TABLES
from canalis.mappings.declarative.engine import Mapper
from canalis.store import tables


def table_schema(table: Table) -> TableSchema:
    """A store table's columns as Dagster shows them: name, type, comment, nullability and key."""
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=str(column.type.compile(dialect=sqlite.dialect())).lower(),
                description=column.comment,
                constraints=TableColumnConstraints(
                    nullable=column.nullable, unique=column.primary_key and len(table.primary_key.columns) == 1
                ),
            )
            for column in table.columns
        ]
    )


def _sole_key(table: Table, column) -> bool:
    return bool(column.primary_key) and len(table.primary_key.columns) == 1


def build_canonical_assets(
    feeds: dict[str, list[tuple[str, str]]], mappers: dict[str, Mapper], translator: CanalisTranslator
) -> AssetsDefinition:
    """The canonical tables as one multi-asset: each changed raw record is read once and mapped to every table."""
    specs = []
    key_to_entity: dict[AssetKey, str] = {}
    for entity, entity_feeds in sorted(feeds.items()):
        definition = ENTITIES[entity]
        table = definition.primary_table
        key = translator.canonical_key(table)
        key_to_entity[key] = entity
        specs.append(
            AssetSpec(
                key=key,
                group_name=translator.canonical_group(),
                kinds={"sql"},
                description=f"{definition.description}, mapped to the canonical `{table}` table.",
                deps=[translator.raw_key(connection, stream) for connection, stream in entity_feeds],
                metadata={
                    "table": table,
                    "entity": entity,
                    "sources": ", ".join(sorted({connection for connection, _ in entity_feeds})),
                    "dagster/column_schema": table_schema(TABLES[table]),
                    "dagster/table_name": table,
                },
                skippable=True,
            )
        )

    @multi_asset(
        name="canonical", specs=specs, can_subset=True, required_resource_keys={"store"}, pool="canalis_canonical"
    )
    def _canonical(context: AssetExecutionContext):
        store = context.resources.store.get_store()
        selected = [key_to_entity[key] for key in sorted(context.selected_asset_keys) if key in key_to_entity]
        reports = canonicalize_entities(
            store, mappers, selected, full=is_full_refresh(context), run_id=context.run.run_id
        )
        store.analyze_written()  # the next steps look rows up by key in what this pass wrote
        for key in sorted(context.selected_asset_keys):
            entity = key_to_entity[key]
            report = reports[entity]
            context.log.info(
                f"{entity}: mapped {report.mapped} from {report.raw_records} raw records, "
                f"quarantined {report.quarantined}"
            )
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "raw_records_processed": report.raw_records,
                    "mapped": report.mapped,
                    "new": report.counts.inserted,
                    "updated": report.counts.updated,
                    "unchanged": report.counts.unchanged,
                    "quarantined": report.quarantined,
                    "removed_as_deleted_at_source": report.deleted,
                    "by_source": counter_table(report.by_source, "source"),
                    "quarantined_by_source": counter_table(report.quarantined_by_source, "source"),
                    "quarantine_reasons": bullet_list(report.quarantine_reasons),
                    "preview": markdown_table(report.preview),
                    "seconds": round(report.seconds, 3),
                    "dagster/row_count": store.count(TABLES[ENTITIES[entity].primary_table]),
                },
            )

    return _canonical


def build_quarantine_check(
    entity_key: AssetKey, feeds: list[tuple[str, str]], max_share: float
) -> AssetChecksDefinition:
    """A check that warns when the streams feeding a canonical asset hold too many records in quarantine."""

    @asset_check(
        asset=entity_key,
        name="quarantine_share",
        required_resource_keys={"store"},
        description=f"Share of the feeding streams' records held in quarantine stays under {max_share:.0%}.",
    )
    def _check(context) -> AssetCheckResult:
        store = context.resources.store.get_store()
        q, raw = tables.quarantine, tables.raw_records
        with store.engine.connect() as conn:
            held_rows = conn.execute(
                select(q.c.source, q.c.stream, func.count())
                .where(tuple_(q.c.source, q.c.stream).in_(feeds), tables.quarantine_open())
                .group_by(q.c.source, q.c.stream)
            ).all()
            landed = conn.execute(
                select(func.count()).select_from(raw).where(tuple_(raw.c.source, raw.c.stream).in_(feeds))
            ).scalar_one()
        held = sum(row[2] for row in held_rows)
        # read-stage rejections never reached the landing table, so they count on both sides
        read_rejections = _read_rejections(store, feeds)
        total = landed + read_rejections
        share = held / total if total else 0.0
        return AssetCheckResult(
            passed=share <= max_share,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "quarantined": held,
                "records": total,
                "share": round(share, 4),
                "limit": max_share,
                "by_stream": markdown_table(
                    [{"source": row[0], "stream": row[1], "quarantined": row[2]} for row in held_rows]
                ),
            },
        )

    return _check


def _read_rejections(store, feeds: list[tuple[str, str]]) -> int:
    """Records rejected when read and still held (they have not reached the landing table)."""
    q = tables.quarantine
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(
                tuple_(q.c.source, q.c.stream).in_(feeds), q.c.stage.in_(tables.READ_STAGES), tables.quarantine_open()
            )
        ).scalar_one()
