"""The connector SDK: the pieces every connector, built-in or plugin, is made of."""

from canalis.sdk.base import Connector, ConnectorKind, dig, record_id
from canalis.sdk.errors import ApiError, CanalisError, ConfigError, ConnectorError, MappingError
from canalis.sdk.settings import ConnectorSettings, describe_settings, load_settings, setting
from canalis.sdk.state import StreamState
from canalis.sdk.streams import CheckResult, Page, Rejected, Stream, WriteResult

__all__ = [
    "ApiError",
    "CanalisError",
    "CheckResult",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "ConnectorKind",
    "ConnectorSettings",
    "MappingError",
    "Page",
    "Rejected",
    "Stream",
    "StreamState",
    "WriteResult",
    "describe_settings",
    "dig",
    "load_settings",
    "record_id",
    "setting",
]
