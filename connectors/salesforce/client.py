"""The Salesforce API client: REST query paging, describe, sObject collections and Bulk API 2.0 query jobs.

Every call goes through the SDK's HttpClient (retries, Retry-After, rate limiting, redaction); an expired
session (401 INVALID_SESSION_ID) is renewed once by logging in again when the login flow allows it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from canalis.connectors.salesforce.login import SYSTEM, Session, login
from canalis.connectors.salesforce.settings import SalesforceSettings, auth_plan
from canalis.sdk import ApiError, ConnectorError, HttpClient, RateLimiter, response_cap

log = logging.getLogger("canalis.connectors.salesforce")

MAX_COLLECTION_RECORDS = 200
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_BULK_FINAL = ("JobComplete", "Failed", "Aborted")


class SalesforceClient:
    """One logged-in connection to a Salesforce org."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        connection: str = SYSTEM,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.plan = auth_plan(settings, connection)
        self._requests_session = session
        self._sleep = sleep
        self._clock = clock
        rate = settings.requests_per_second
        self._limiter = RateLimiter(rate, burst=max(1, int(rate)), clock=clock, sleep=sleep) if rate > 0 else None
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._http: HttpClient | None = None
        self._describe: dict[str, dict[str, Any]] = {}
        self.api_usage: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"SalesforceClient(connection={self.connection!r}, flow={self.plan.flow!r})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- session --------------------------------------------------------------------------------------

    def _login(self) -> tuple[Session, HttpClient]:
        with self._lock:
            if self._session is None or self._http is None:
                session = login(
                    self.settings,
                    self.plan,
                    connection=self.connection,
                    session=self._requests_session,
                    sleep=self._sleep,
                )
                if self._http is None or self._http.base_url != session.instance_url.rstrip("/"):
                    self._http = HttpClient(
                        SYSTEM,
                        session.instance_url,
                        timeout=(10.0, self.settings.timeout_seconds),
                        max_attempts=self.settings.max_attempts,
                        max_response_bytes=response_cap(self.settings),
                        rate_limiter=self._limiter,
                        secrets=[session.token],
                        session=self._requests_session,
                        sleep=self._sleep,
                    )
                self._session = session
            return self._session, self._http

    def _forget_session(self, stale: Session) -> None:
        with self._lock:
            if self._session is stale:
                self._session = None

    @property
    def http(self) -> HttpClient:
        """The HTTP client of the instance (logging in first when needed)."""
        return self._login()[1]

    @property
    def data_path(self) -> str:
        return f"services/data/v{self.settings.api_version}"

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        call: str | None = None,
    ) -> requests.Response:
        """An authenticated request; a 401 INVALID_SESSION_ID logs in again once when the flow allows it."""
        for attempt in (1, 2):
            session, http = self._login()
            merged = {"Authorization": f"Bearer {session.token}", **(headers or {})}
            try:
                response = http.request(method, path_or_url, params=params, json=json, headers=merged, call=call)
            except ApiError as error:
                if error.status == 401 and self.plan.refreshable and attempt == 1:
                    log.info("salesforce: session expired, logging in again")
                    self._forget_session(session)
                    continue
                raise
            self._note_usage(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        response = self.request(method, path_or_url, **kwargs)
        return self.http.decode_json(response, call=kwargs.get("call") or f"{method} {path_or_url.split('?')[0]}")

    def _note_usage(self, response: requests.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))

    # -- reads ----------------------------------------------------------------------------------------

    def versions(self) -> list[dict[str, Any]]:
        """GET /services/data: the API versions the instance serves."""
        return self.json("GET", "services/data") or []

    def limits(self) -> dict[str, Any]:
        return self.json("GET", f"{self.data_path}/limits") or {}

    def describe(self, sobject: str) -> dict[str, Any]:
        """The describe document of an sObject (cached for the client's life)."""
        if sobject not in self._describe:
            self._describe[sobject] = self.json(
                "GET", f"{self.data_path}/sobjects/{sobject}/describe", call=f"GET describe {sobject}"
            )
        return self._describe[sobject]

    def field_types(self, sobject: str) -> dict[str, str]:
        """Field name -> describe type of an sObject."""
        return {f["name"]: f["type"] for f in self.describe(sobject).get("fields", [])}

    def query_pages(
        self, soql: str, *, batch_size: int | None = None, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Each page of a REST query, following nextRecordsUrl until done; with `include_deleted`, a queryAll that
        also returns the records in the recycle bin (IsDeleted true)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size or self.settings.page_size}"}
        endpoint = "queryAll" if include_deleted else "query"
        body = self.json(
            "GET", f"{self.data_path}/{endpoint}", params={"q": soql}, headers=headers, call=f"GET {endpoint}"
        )
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise ConnectorError(f"salesforce: query answer has no records list: {str(body)[:200]}")
            yield body
            if body.get("done", True):
                return
            next_url = body.get("nextRecordsUrl")
            if not next_url:
                raise ConnectorError("salesforce: query answer is not done but has no nextRecordsUrl")
            body = self.json("GET", str(next_url), headers=headers, call="GET query (next page)")

    def count(self, soql: str) -> int:
        """The totalSize of a SELECT COUNT() query."""
        body = self.json("GET", f"{self.data_path}/query", params={"q": soql}, call="GET query (count)")
        return int(body.get("totalSize", 0))

    def bulk_query(self, soql: str) -> Iterator[list[dict[str, str]]]:
        """Run a Bulk API 2.0 query job and yield its result sets as lists of CSV rows, one set at a time."""
        jobs = f"{self.data_path}/jobs/query"
        job = self.json(
            "POST",
            jobs,
            json={
                "operation": "query",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
            call="POST jobs/query",
        )
        job_id = str(job["id"])
        try:
            self._wait_for_job(f"{jobs}/{job_id}")
            locator: str | None = None
            while True:
                params: dict[str, Any] = {"maxRecords": self.settings.bulk_page_size}
                if locator:
                    params["locator"] = locator
                response = self.request(
                    "GET",
                    f"{jobs}/{job_id}/results",
                    params=params,
                    headers={"Accept": "text/csv"},
                    call="GET jobs/query results",
                )
                rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
                expected = response.headers.get("Sforce-NumberOfRecords")
                if expected is not None and expected.isdigit() and int(expected) != len(rows):
                    raise ConnectorError(
                        f"salesforce: bulk result set holds {len(rows)} rows, Sforce-NumberOfRecords says {expected}"
                    )
                yield rows
                locator = response.headers.get("Sforce-Locator")
                if not locator or locator == "null":
                    return
        finally:
            try:
                self.request("DELETE", f"{jobs}/{job_id}", call="DELETE jobs/query")
            except (ApiError, ConnectorError) as error:
                log.warning("salesforce: could not delete bulk query job %s: %s", job_id, error)

    def _wait_for_job(self, path: str) -> None:
        deadline = self._clock() + self.settings.bulk_timeout_seconds
        while True:
            info = self.json("GET", path, call="GET jobs/query status")
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in _BULK_FINAL:
                raise ConnectorError(f"salesforce: bulk query job {state}: {info.get('errorMessage') or 'no message'}")
            if self._clock() >= deadline:
                self.request("PATCH", path, json={"state": "Aborted"}, call="PATCH jobs/query (abort)")
                raise ConnectorError(
                    f"salesforce: bulk query job still {state} after {self.settings.bulk_timeout_seconds:.0f} s "
                    "(setting 'bulk_timeout_seconds')"
                )
            self._sleep(self.settings.bulk_poll_seconds)

    # -- writes ---------------------------------------------------------------------------------------

    def delete_record(self, sobject: str, record_id: str) -> bool:
        """Delete one record (to the recycle bin); False when it is already deleted or does not exist."""
        try:
            self.request("DELETE", f"{self.data_path}/sobjects/{sobject}/{record_id}", call=f"DELETE {sobject}")
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def collection_update(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH composite/sobjects: update up to 200 records by Id; one SaveResult per record, in order."""
        return self._collection("PATCH", f"{self.data_path}/composite/sobjects", records)

    def collection_upsert(self, sobject: str, field: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PATCH composite/sobjects/<sObject>/<field>: upsert up to 200 records by an external id field."""
        return self._collection("PATCH", f"{self.data_path}/composite/sobjects/{sobject}/{field}", records)

    def _collection(self, method: str, path: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(records) > MAX_COLLECTION_RECORDS:
            raise ConnectorError(f"salesforce: at most {MAX_COLLECTION_RECORDS} records per collection call")
        results = self.json(
            method, path, json={"allOrNone": False, "records": records}, call=f"{method} composite/sobjects"
        )
        if not isinstance(results, list) or len(results) != len(records):
            raise ConnectorError("salesforce: composite answer does not hold one result per record")
        return results


def bulk_row_to_record(sobject: str, row: dict[str, str], types: Mapping[str, str]) -> dict[str, Any]:
    """A Bulk API 2.0 CSV row as the REST API would return the record: typed values and attributes."""
    record: dict[str, Any] = {"attributes": {"type": sobject}}
    for name, text in row.items():
        record[name] = _typed(text, types.get(name, "string"))
    return record


def _typed(text: str | None, kind: str) -> Any:
    if text is None or text == "":
        return None
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("double", "currency", "percent"):
        try:
            return float(text)
        except ValueError:
            return text
    return text
