"""The connector SDK: everything a connector, built-in or plugin, is made of, importable from this one module.

    from canalis.sdk import Connector, ConnectorSettings, HttpClient, Page, Stream, StreamState, setting

A connector declares its settings (`ConnectorSettings` with `setting(...)`), its streams (`Stream` subclasses
with class attributes), and implements `check`, `read_pages` (and `write` for writable streams). `HttpClient`
brings sessions, timeouts, retries honouring Retry-After, rate limiting and error messages naming the system,
the call and the status; the paginators drive the usual paging schemes. Plugins register their connector class
in the `canalis.connectors` entry-point group. Names not listed in `__all__` are internal and may change.

`SDK_VERSION` follows semantic versioning: a plugin written against 1.x keeps working with every 1.y.
"""

from canalis.sdk.base import Connector, ConnectorKind, dig, key_at, record_id
from canalis.sdk.errors import ApiError, CanalisError, ConfigError, ConfigProblem, ConnectorError, MappingError
from canalis.sdk.http import RETRYABLE_STATUSES, HttpClient, error_message, parse_retry_after
from canalis.sdk.pagination import (
    iter_records,
    paginate_cursor,
    paginate_link_header,
    paginate_next_url,
    paginate_offset,
)
from canalis.sdk.prefetch import prefetched
from canalis.sdk.ratelimit import RateLimiter
from canalis.sdk.redaction import redact, redact_url
from canalis.sdk.settings import ConnectorSettings, describe_settings, load_settings, setting
from canalis.sdk.state import CursorKind, StreamState, format_cursor, parse_cursor_datetime
from canalis.sdk.streams import CheckResult, Page, Rejected, Stream, WriteOnlyStream, WriteResult, field_declared

SDK_VERSION = "1.0.0"

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
    "HttpClient",
    "MappingError",
    "Page",
    "RateLimiter",
    "Rejected",
    "Stream",
    "StreamState",
    "WriteOnlyStream",
    "WriteResult",
    "describe_settings",
    "dig",
    "error_message",
    "field_declared",
    "format_cursor",
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
    "setting",
]
