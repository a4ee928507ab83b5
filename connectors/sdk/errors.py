"""Errors raised by connectors and the SDK; every message names what failed and never holds a secret."""

from __future__ import annotations


class CanalisError(Exception):
    """Base class for every error Canalis raises on purpose."""


class ConfigError(CanalisError):
    """A setting is missing or wrong; the message names the setting."""

    def __init__(self, message: str, *, setting: str | None = None, connection: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.connection = connection


class ConnectorError(CanalisError):
    """A connector could not do what was asked for a reason other than an API answer."""


class ApiError(ConnectorError):
    """A vendor API answered with an error, or could not be reached.

    The message names the system, the call and the HTTP status (None when no response came back).
    """

    def __init__(
        self,
        *,
        system: str,
        call: str,
        status: int | None,
        detail: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.system = system
        self.call = call
        self.status = status
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        status_text = f"HTTP {status}" if status is not None else "no response"
        message = f"{system}: {call} failed with {status_text}"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    def __reduce__(self):  # keep the keyword-only constructor picklable across processes
        return (
            _rebuild_api_error,
            (self.system, self.call, self.status, self.detail, self.retryable, self.retry_after),
        )


def _rebuild_api_error(
    system: str, call: str, status: int | None, detail: str, retryable: bool, retry_after: float | None
) -> ApiError:
    return ApiError(
        system=system, call=call, status=status, detail=detail, retryable=retryable, retry_after=retry_after
    )


class MappingError(CanalisError):
    """A source record could not be mapped to the canonical schema; the record goes to quarantine."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        stream: str,
        field: str | None = None,
        record_key: str | None = None,
    ):
        where = f"{source}.{stream}"
        if field:
            where += f" field '{field}'"
        if record_key:
            where += f" record '{record_key}'"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.stream = stream
        self.field = field
        self.record_key = record_key
        self.reason = message
