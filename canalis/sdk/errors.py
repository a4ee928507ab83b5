"""Errors raised by connectors and the SDK; every message names what failed and never holds a secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CanalisError(Exception):
    """Base class for every error Canalis raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in the configuration: where it is (a dotted path in the connections file) and what."""

    where: str
    message: str
    connection: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(CanalisError):
    """The configuration is wrong; the message names each setting at fault (never its value).

    `problems` lists every problem found, for callers that report them all (`canalis check`).
    """

    def __init__(
        self,
        message: str,
        *,
        setting: str | None = None,
        connection: str | None = None,
        problems: Sequence[ConfigProblem] = (),
    ) -> None:
        super().__init__(message)
        self.setting = setting
        self.connection = connection
        self.problems: tuple[ConfigProblem, ...] = tuple(problems) or (
            ConfigProblem(where="", message=message, connection=connection),
        )

    @classmethod
    def of(cls, problems: Sequence[ConfigProblem]) -> ConfigError:
        """One error for a list of problems: the first one's text, or all of them when there are several."""
        first = problems[0]
        if len(problems) == 1:
            message = str(first)
        else:
            message = f"{len(problems)} configuration problems:\n" + "\n".join(f"  - {p}" for p in problems)
        setting = first.where or None
        if setting and first.connection and setting.startswith(f"connections.{first.connection}.settings."):
            setting = setting.removeprefix(f"connections.{first.connection}.settings.")
        return cls(message, setting=setting, connection=first.connection, problems=problems)


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
