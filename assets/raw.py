"""Raw assets: one per connection stream, reading it into the landing table from its stored cursor."""

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, asset

from canalis.assets.jobs import is_full_refresh
from canalis.assets.metadata import bullet_list, markdown_table
from canalis.assets.resources import ConnectionResource, resource_key
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import ConnectionConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.ingest import ingest_stream
from canalis.sdk.streams import Stream
from canalis.store import tables


def build_raw_asset(
    name: str,
    connection: ConnectionConfig,
    registered: RegisteredConnector,
    stream_name: str,
    translator: CanalisTranslator,
) -> AssetsDefinition:
    """The raw asset of one connection stream: reads it into the landing table, resuming from its cursor."""
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
            "connection": name,
            "connector": connector_class.name,
            "channel": connection.channel,
            "primary_key": stream.primary_key,
            "cursor_field": stream.cursor_field or "(file content)",
            "origin": registered.origin,
        },
        op_tags={"canalis/connection": name},
        pool=f"canalis_{name}",  # one read of a connection at a time, whichever run asks
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        connection_resource: ConnectionResource = getattr(context.resources, resource_key(name))
        with connection_resource.build() as connector:
            report = ingest_stream(
                store, connector, stream_name, full_refresh=is_full_refresh(context), run_id=context.run.run_id
            )
        context.log.info(
            f"{name}.{stream_name}: read {report.records_read}, new {report.inserted}, updated {report.updated}, "
            f"unchanged {report.unchanged}, quarantined {report.quarantined}"
        )
        return MaterializeResult(
            metadata={
                "records_read": report.records_read,
                "new": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "quarantined": report.quarantined,
                "pages": report.pages,
                "cursor": report.cursor or "",
                "full_refresh": report.full_refresh,
                "seconds": round(report.seconds, 3),
                "records_per_second": round(report.records_read / report.seconds, 1) if report.seconds else 0.0,
                "stored_by": "writer process" if report.writer_process else "reading process",
                "preview": markdown_table(report.preview),
                "quarantine_reasons": bullet_list(report.quarantine_reasons),
                "dagster/row_count": store.count(tables.raw_records, source=name, stream=stream_name),
            }
        )

    return _raw
