"""Bulk exports: run a bulk query, poll it until it completes, then stream its JSONL result line by line.

The result file lives on another host (a signed storage URL), so it is fetched without the shop's token. A
broken download resumes from the last complete line with an HTTP Range request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from canalis.connectors.shopify import queries
from canalis.connectors.shopify.client import SYSTEM, ShopifyClient
from canalis.sdk import ApiError, ConnectorError, Rejected, redact
from canalis.sdk.http import RETRYABLE_EXCEPTIONS, RETRYABLE_STATUSES, parse_retry_after

CHUNK = 256 * 1024
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
FIRST_POLL_SECONDS = 0.5  # the first status poll comes this soon; later ones back off to `poll_seconds`
CHILD_FIELDS = {"LineItem": "lineItems"}


@dataclass
class BulkResult:
    """A finished bulk operation."""

    id: str
    status: str
    url: str | None
    object_count: int


class BulkExport:
    """Runs one bulk query to completion and reads its result."""

    def __init__(
        self,
        client: ShopifyClient,
        *,
        poll_seconds: float,
        timeout_seconds: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.client = client
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.clock = clock
        self.session = session or requests.Session()

    def run(self, query: str) -> BulkResult:
        """Start the bulk query (or join the same one already running) and wait for it to finish."""
        data = self.client.execute(queries.BULK_RUN, {"query": query}, name="bulk_run")["bulkOperationRunQuery"]
        errors = data.get("userErrors") or []
        operation = data.get("bulkOperation")
        if errors or not operation:
            operation = self._join_running(query, errors)
        return self._wait(operation["id"])

    def _join_running(self, query: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
        """The bulk operation already running this very query; ConnectorError for any other refusal."""
        current = self.client.execute(queries.BULK_CURRENT, name="bulk_status").get("currentBulkOperation")
        if current and current.get("status") in ("CREATED", "RUNNING") and current.get("query") == query:
            return current
        message = "; ".join(str(error.get("message")) for error in errors) or "no bulk operation was created"
        raise ConnectorError(f"shopify: bulk export refused: {message}")

    def poll_delays(self) -> Iterator[float]:
        """Seconds to wait before each next status poll: half a second, doubling up to `poll_seconds`.

        A small export is ready within a second or two, so it is not kept waiting for a whole poll interval;
        a long one is polled every `poll_seconds` after the first few polls.
        """
        delay = min(FIRST_POLL_SECONDS, self.poll_seconds)
        while True:
            yield delay
            delay = min(delay * 2, self.poll_seconds)

    def _wait(self, operation_id: str) -> BulkResult:
        started = self.clock()
        delays = self.poll_delays()
        while True:
            node = self.client.execute(queries.BULK_STATUS, {"id": operation_id}, name="bulk_status").get("node")
            if not node:
                raise ConnectorError(f"shopify: bulk operation {operation_id} disappeared")
            status = node.get("status")
            if status in FINISHED:
                if status != "COMPLETED":
                    raise ConnectorError(
                        f"shopify: bulk operation {operation_id} ended {status} ({node.get('errorCode') or 'no code'})"
                    )
                return BulkResult(operation_id, status, node.get("url"), int(node.get("objectCount") or 0))
            if self.clock() - started > self.timeout_seconds:
                self.client.execute(queries.BULK_CANCEL, {"id": operation_id}, name="bulk_cancel")
                raise ConnectorError(
                    f"shopify: bulk operation {operation_id} still {status} after "
                    f"{self.timeout_seconds:.0f} s; canceled"
                )
            self.sleep(next(delays))

    def lines(self, url: str) -> Iterator[bytes]:
        """The result file's lines, resuming after a broken connection from the last complete line."""
        offset, attempt = 0, 0
        while True:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self.session.get(url, headers=headers, stream=True, timeout=(10.0, 300.0)) as response:
                    self._check(response, url)
                    skip = offset if offset and response.status_code == 200 else 0
                    pending = b""
                    for chunk in response.iter_content(CHUNK):
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk, skip = chunk[dropped:], skip - dropped
                        pending += chunk
                        *complete, pending = pending.split(b"\n")
                        for line in complete:
                            offset += len(line) + 1
                            attempt = 0
                            if line.strip():
                                yield line
                    if pending.strip():
                        yield pending
                    return
            except _Transient as error:
                attempt += 1
                if attempt >= self.client.settings.max_attempts:
                    raise ApiError(
                        system=SYSTEM, call="GET bulk result", status=error.status, detail=error.detail, retryable=True
                    ) from None
                self.sleep(error.wait if error.wait is not None else min(30.0, 0.5 * 2**attempt))
            except RETRYABLE_EXCEPTIONS as error:
                attempt += 1
                if attempt >= self.client.settings.max_attempts:
                    detail = redact(f"{type(error).__name__}: {error}")[:300]
                    raise ApiError(
                        system=SYSTEM, call="GET bulk result", status=None, detail=detail, retryable=True
                    ) from None
                self.sleep(min(30.0, 0.5 * 2**attempt))

    def _check(self, response: requests.Response, url: str) -> None:
        if response.status_code in (200, 206):
            return
        detail = redact(f"{response.text[:200]} ({url})")
        if response.status_code in RETRYABLE_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise _Transient(response.status_code, detail, wait)
        raise ApiError(system=SYSTEM, call="GET bulk result", status=response.status_code, detail=detail)


class _Transient(Exception):
    """A retryable HTTP status while downloading a bulk result."""

    def __init__(self, status: int, detail: str, wait: float | None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.wait = status, detail, wait


def regroup(lines: Iterator[bytes]) -> Iterator[dict[str, Any] | Rejected]:
    """JSONL lines back into records: child lines (`__parentId`) are appended to their parent's connection.

    The export asks for `groupObjects`, so children follow their parent; a child of another parent is rejected.
    """
    current: dict[str, Any] | None = None
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError as error:
            yield Rejected(
                payload={"line": line[:2000].decode("utf-8", "replace")}, error=f"invalid JSON line: {error}"
            )
            continue
        if not isinstance(value, dict):
            yield Rejected(payload={"line": line[:2000].decode("utf-8", "replace")}, error="line is not a JSON object")
            continue
        parent = value.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield current
            current = value
            continue
        kind = str(value.get("id") or "").split("/")[3:4]
        field = CHILD_FIELDS.get(kind[0] if kind else "")
        if current is None or current.get("id") != parent or field is None:
            yield Rejected(payload=value, error=f"child line away from its parent {parent}", record_id=value.get("id"))
            continue
        current.setdefault(field, {"nodes": []})["nodes"].append(value)
    if current is not None:
        yield current
