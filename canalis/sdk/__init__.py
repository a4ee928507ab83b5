"""The connector SDK: everything a connector, built-in or plugin, is made of, importable from this one module.

    from canalis.sdk import Connector, ConnectorSettings, HttpClient, Page, Stream, StreamState, setting

A connector declares its settings (`ConnectorSettings` with `setting(...)`; `HttpSettings` for an HTTP API),
its streams (`Stream` subclasses with class attributes; `RestStream`, `GraphQLStream` and `SqlStream` are read
by the SDK from their declaration), and implements `check` and `write` for writable streams. `HttpConnector`
builds the `HttpClient` (sessions, timeouts, retries honouring Retry-After, rate limiting, error messages naming
the system, the call and the status) from the settings; a stream the SDK cannot read from its declaration is
read by the connector's `read_<stream>(state)` method. A connector can also be declared in YAML
(`declarative_connector`). Plugins register their connector class in the `canalis.connectors` entry-point
group; `canalis.testing` gives them their test suite. Names not listed in `__all__` are internal and may change.

`SDK_VERSION` follows semantic versioning: a plugin written against 1.x keeps working with every 1.y.
"""

from canalis.sdk.base import Connector, ConnectorKind, dig, key_at, record_id
from canalis.sdk.declarative import DeclarativeConnector, declarative_connector
from canalis.sdk.errors import ApiError, CanalisError, ConfigError, ConfigProblem, ConnectorError, MappingError
from canalis.sdk.graphql import GraphQLStream, graphql_throttle
from canalis.sdk.http import RETRYABLE_STATUSES, HttpClient, error_message, parse_retry_after, response_cap
from canalis.sdk.http_connector import HttpConnector
from canalis.sdk.pagination import (
    iter_records,
    paginate_cursor,
    paginate_link_header,
    paginate_next_url,
    paginate_offset,
)
from canalis.sdk.paginators import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    Paginator,
)
from canalis.sdk.prefetch import prefetched
from canalis.sdk.ratelimit import RateLimiter
from canalis.sdk.redaction import redact, redact_url
from canalis.sdk.rest import ParentPartitions, Partitions, RestStream, SettingPartitions
from canalis.sdk.settings import (
    ConnectorSettings,
    HttpCallSettings,
    HttpSettings,
    describe_settings,
    load_settings,
    setting,
)
from canalis.sdk.sql import SqlConnector, SqlSettings, SqlStream
from canalis.sdk.state import CursorKind, StreamState, format_cursor, parse_cursor_datetime
from canalis.sdk.streams import (
    CheckResult,
    Deletion,
    Page,
    Rejected,
    Stream,
    WriteOnlyStream,
    WriteResult,
    field_declared,
)

SDK_VERSION = "1.1.0"

__all__ = [
    "RETRYABLE_STATUSES",
    "SDK_VERSION",
    "ApiError",
    "CanalisError",
    "CheckResult",
    "ConfigError",
    "ConfigProblem",
    "Connector",
    "ConnectorError",
    "ConnectorKind",
    "ConnectorSettings",
    "CursorKind",
    "CursorPagination",
    "DeclarativeConnector",
    "Deletion",
    "GraphQLStream",
    "HttpCallSettings",
    "HttpClient",
    "HttpConnector",
    "HttpSettings",
    "LinkHeaderPagination",
    "MappingError",
    "NextUrlPagination",
    "NoPagination",
    "OffsetPagination",
    "Page",
    "PageNumberPagination",
    "Paginator",
    "ParentPartitions",
    "Partitions",
    "RateLimiter",
    "Rejected",
    "RestStream",
    "SettingPartitions",
    "SqlConnector",
    "SqlSettings",
    "SqlStream",
    "Stream",
    "StreamState",
    "WriteOnlyStream",
    "WriteResult",
    "declarative_connector",
    "describe_settings",
    "dig",
    "error_message",
    "field_declared",
    "format_cursor",
    "graphql_throttle",
    "iter_records",
    "key_at",
    "load_settings",
    "paginate_cursor",
    "paginate_link_header",
    "paginate_next_url",
    "paginate_offset",
    "parse_cursor_datetime",
    "parse_retry_after",
    "prefetched",
    "record_id",
    "redact",
    "redact_url",
    "response_cap",
    "setting",
]
