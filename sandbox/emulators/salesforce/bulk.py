"""Bulk API 2.0 query jobs: job info documents, the job life cycle, and CSV result sets with locators."""

from __future__ import annotations

import base64
import csv
import io
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canalis.sandbox.emulators.salesforce.records import field_value, wire_datetime
from canalis.sandbox.emulators.salesforce.schema import FieldDef, SObjectDef
from canalis.sandbox.emulators.salesforce.soql import stored_datetime
from canalis.sandbox.emulators.salesforce.wire import USER_ID

DELIMITERS = {"COMMA": ",", "BACKQUOTE": "`", "CARET": "^", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
FINAL_STATES = ("JobComplete", "Failed", "Aborted")
DEFAULT_MAX_RECORDS = 10_000


@dataclass
class QueryJob:
    """One query job and the ids of the records its query matched when it ran."""

    id: str
    operation: str
    sobject: SObjectDef
    fields: list[FieldDef]
    query: str
    version: str
    created: datetime
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "UploadComplete"
    polls_left: int = 1
    record_ids: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The job info document."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject.name,
            "createdById": USER_ID,
            "createdDate": wire_datetime(self.created),
            "systemModstamp": wire_datetime(self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.state in FINAL_STATES:
            body.update(numberRecordsProcessed=len(self.record_ids), retries=0, totalProcessingTime=42)
        return body


class QueryJobs:
    """Every query job of the emulator, safe across request threads."""

    def __init__(self) -> None:
        self._jobs: dict[str, QueryJob] = {}
        self._lock = threading.Lock()

    def add(self, job: QueryJob) -> None:
        with self._lock:
            self._jobs[job.id] = job

    def get(self, job_id: str) -> QueryJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def poll(self, job_id: str) -> QueryJob | None:
        """The job as a status request sees it: it completes after its configured number of polls."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state not in FINAL_STATES:
                if job.polls_left > 0:
                    job.polls_left -= 1
                    job.state = "InProgress"
                else:
                    job.state = "JobComplete"
            return job

    def abort(self, job_id: str) -> QueryJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.state not in FINAL_STATES:
                job.state = "Aborted"
            return job

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def all(self) -> list[QueryJob]:
        with self._lock:
            return list(self._jobs.values())


def encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_locator(locator: str) -> int | None:
    try:
        return int(base64.b64decode(locator.encode(), validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        return None


def csv_value(target: FieldDef, value: Any) -> str:
    """A value as Bulk API 2.0 writes it in CSV: empty for null, true/false, datetimes in UTC with Z."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if target.type == "datetime":
        moment = stored_datetime(str(value))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z" if moment else str(value)
    return str(value)


def csv_page(job: QueryJob, payloads: list[dict[str, Any]]) -> str:
    """One result set: a header row and one row per record, every value quoted."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job.delimiter],
        lineterminator=LINE_ENDINGS[job.line_ending],
        quoting=csv.QUOTE_ALL,
    )
    writer.writerow([target.name for target in job.fields])
    for payload in payloads:
        writer.writerow([csv_value(target, field_value(job.sobject, target, payload)) for target in job.fields])
    return buffer.getvalue()
