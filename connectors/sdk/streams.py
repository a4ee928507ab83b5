"""Stream declarations, read pages and write results: the vocabulary connectors speak."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from connectors.sdk.state import StreamState


class Stream:
    """A stream a connector reads (and maybe writes), declared with class attributes."""

    name: ClassVar[str]
    primary_key: ClassVar[str]
    cursor_field: ClassVar[str | None] = None
    record_model: ClassVar[type[BaseModel] | None] = None
    description: ClassVar[str] = ""
    writable: ClassVar[bool] = False
    readable: ClassVar[bool] = True
    lookback: ClassVar[timedelta] = timedelta(0)

    @classmethod
    def incremental(cls) -> bool:
        """Whether the stream can resume from a cursor."""
        return cls.cursor_field is not None


class WriteOnlyStream(Stream):
    """A canonical stream Canalis publishes to a channel (prices, stock_levels, promotions, consents, customers).

    Nothing is read from it: the channel's current values come in through its ordinary streams.
    """

    primary_key = "key"
    writable = True
    readable = False


@dataclass(frozen=True)
class Rejected:
    """A record a connector could not accept, kept with the reason so it can be quarantined."""

    payload: Any
    error: str
    record_id: str | None = None
    field: str | None = None


@dataclass
class Page:
    """Records read in one go, and the stream state that holds once they are stored."""

    records: list[dict[str, Any]]
    state: StreamState
    rejected: list[Rejected] = field(default_factory=list)


WriteStatus = Literal["applied", "unchanged", "failed", "skipped"]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of writing one record to a channel."""

    record_key: str
    status: WriteStatus
    vendor_id: str | None = None
    error: str | None = None
    retryable: bool = False


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a connection test."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
