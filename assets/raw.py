"""Raw assets: one per connection stream, reading it into the landing table from its stored cursor."""

from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    TableColumn,
    TableSchema,
    asset,
)

from canalis.assets.automation import freshness, raw_condition
from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import bullet_list, markdown_table
from canalis.assets.resources import ConnectionResource, resource_key
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import ConnectionConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.deploy.pools import read_pool
from canalis.ingest import ingest_stream
from canalis.ingest.replay import replay_stream
from canalis.privacy import mask_text
from canalis.sdk.base import Connector
from canalis.sdk.streams import Stream
from canalis.store import Store, tables

READ_CHECK = "read_succeeded"


def one_line(error: BaseException) -> str:
    """An error as one line for run metadata and summaries: no secret (error texts never hold one), and emails and
    phone numbers a vendor's message may quote are masked."""
    text = mask_text(" ".join(str(error).split())) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def build_raw_asset(
    name: str,
    connection: ConnectionConfig,
    registered: RegisteredConnector,
    stream_name: str,
    translator: CanalisTranslator,
    *,
    schedule: str = "0 * * * *",
    owners: Sequence[str] = (),
) -> AssetsDefinition:
    """The raw asset of one connection stream: reads it into the landing table, resuming from its cursor, on its
    connection's schedule when automation is on."""
    connector_class = registered.connector
    stream = next((s for s in connector_class.streams if s.name == stream_name), None)
    if stream is None:  # a stream defined by the connection's settings

        class stream(Stream):
            name = stream_name
            primary_key = "(from settings)"
            description = "A stream defined in the connection's settings."

    key = translator.raw_key(name, stream_name)

    @asset(
        key=key,
        group_name=translator.raw_group(name),
        kinds=translator.raw_kinds(connector_class),
        description=translator.raw_description(name, connector_class, stream),
        required_resource_keys={"store", resource_key(name)},
        metadata={
            **_declared_columns(stream),
            "connection": name,
            "connector": connector_class.name,
            "channel": connection.channel,
            "primary_key": stream.primary_key,
            "cursor_field": stream.cursor_field or "(file content)",
            "origin": registered.origin,
        },
        op_tags={"canalis/connection": name},
        owners=list(owners),
        tags={**connection.tags, "canalis/connector": connector_class.name},
        automation_condition=raw_condition(schedule),
        freshness_policy=freshness(schedule),
        check_specs=[AssetCheckSpec(READ_CHECK, asset=key, description="The last read of the stream went through.")],
        pool=read_pool(name, connection.connector),  # the vendor API's budget is shared by every run and worker
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        connection_resource: ConnectionResource = getattr(context.resources, resource_key(name))
        try:
            with connection_resource.build() as connector:
                full_refresh = is_full_refresh(context)
                report = ingest_stream(
                    store, connector, stream_name, full_refresh=full_refresh, run_id=context.run.run_id
                )
                replay = _replay(context, store, connector, stream_name, connection, full_refresh=full_refresh)
        except Exception as error:  # one failing source must not stop the others: the check says it failed
            reason = one_line(error)
            context.log.error(f"{name}.{stream_name}: read failed: {reason}")
            landed = store.count(tables.raw_records, source=name, stream=stream_name)
            return MaterializeResult(
                metadata={"status": "read failed", "error": reason, "dagster/row_count": landed},
                check_results=[
                    AssetCheckResult(
                        check_name=READ_CHECK,
                        passed=False,
                        severity=AssetCheckSeverity.ERROR,
                        description=reason,
                        metadata={"error": reason, "error_type": type(error).__name__},
                    )
                ],
            )
        context.log.info(
            f"{name}.{stream_name}: read {report.records_read}, new {report.inserted}, updated {report.updated}, "
            f"unchanged {report.unchanged}, quarantined {report.quarantined}, deleted at the source {report.deleted}, "
            f"skipped as erased {report.erased_skipped}, healed {report.healed + replay.get('replay_healed', 0)}"
        )
        return MaterializeResult(
            metadata={
                "records_read": report.records_read,
                "new": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "quarantined": report.quarantined,
                "deleted_at_source": report.deleted,
                "skipped_erased": report.erased_skipped,
                "healed": report.healed,
                **replay,
                "pages": report.pages,
                "cursor": report.cursor or "",
                "full_refresh": report.full_refresh,
                "seconds": round(report.seconds, 3),
                "records_per_second": round(report.records_read / report.seconds, 1) if report.seconds else 0.0,
                "stored_by": "writer process" if report.writer_process else "reading process",
                "preview": markdown_table(report.preview, mask=not connection.full_previews),
                "quarantine_reasons": bullet_list(report.quarantine_reasons, mask=not connection.full_previews),
                "dagster/row_count": store.count(tables.raw_records, source=name, stream=stream_name),
            },
            check_results=[AssetCheckResult(check_name=READ_CHECK, passed=True)],
        )

    return _raw


def _replay(
    context: AssetExecutionContext,
    store: Store,
    connector: Connector,
    stream_name: str,
    connection: ConnectionConfig,
    *,
    full_refresh: bool,
) -> dict[str, Any]:
    """Retry the stream's quarantined records after its read; their counts for the run metadata. A failing
    replay is logged and left for the next run: the read itself went through."""
    stream = connector.stream(stream_name)
    try:
        report = replay_stream(
            store,
            connector,
            stream_name,
            settings=connection.replay,
            run_id=context.run.run_id,
            just_read_whole=full_refresh or not stream.incremental(),
        )
    except Exception as error:
        reason = one_line(error)
        context.log.warning(f"{connector.connection}.{stream_name}: quarantine replay failed: {reason}")
        return {"replay_error": reason}
    if report.retried or report.stale_closed:
        context.log.info(
            f"{connector.connection}.{stream_name}: replayed {report.retried} quarantined record(s) "
            f"({report.method}), healed {report.healed}, closed {report.stale_closed} already landed, "
            f"{report.still_open} still open"
        )
    return report.metadata()


def _declared_columns(stream: type[Stream]) -> dict:
    """The fields a stream declares, as the asset's column schema (paths into each raw JSON record)."""
    declared = stream.declared_fields()
    if not declared:
        return {}
    columns = [TableColumn(name=path, type="json path") for path in sorted(declared)]
    return {"dagster/column_schema": TableSchema(columns=columns)}
