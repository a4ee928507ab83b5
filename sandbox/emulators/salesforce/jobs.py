"""Bulk API 2.0 query job handlers: create, list, status, abort, delete, and CSV results by locator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.salesforce import bulk
from canalis.sandbox.emulators.salesforce.ids import BULK_JOB_PREFIX, opaque_id
from canalis.sandbox.emulators.salesforce.schema import SObjectDef
from canalis.sandbox.emulators.salesforce.soql import Query, SoqlError, parse
from canalis.sandbox.emulators.salesforce.wire import error, not_found, supported_version
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import json_response, read_json

SYSTEM = "salesforce"


class QueryJobRoutes:
    """The /jobs/query handlers; mixed into the emulator."""

    store: ObjectStore
    jobs: bulk.QueryJobs
    bulk_polls_before_complete: int

    def _now(self) -> datetime:
        raise NotImplementedError

    def _next_serial(self) -> int:
        raise NotImplementedError

    def _payloads(self, definition: SObjectDef, *, include_deleted: bool) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _maybe_corrupt(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def query_jobs(self, request: Request, version: str) -> Response:
        if not supported_version(version):
            return not_found()
        if request.method == "GET":
            return json_response(
                {"done": True, "records": [job.info() for job in self.jobs.all()], "nextRecordsUrl": None}
            )
        body = read_json(request)
        if not isinstance(body, dict):
            return error("JSON_PARSER_ERROR", "The request body is not a JSON object", 400)
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return error("INVALIDJOB", f"Invalid operation: {operation}", 400)
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in bulk.DELIMITERS or line_ending not in bulk.LINE_ENDINGS:
            return error("INVALIDJOB", "Invalid columnDelimiter or lineEnding", 400)
        if body.get("contentType", "CSV") != "CSV":
            return error("INVALIDJOB", "Only CSV is supported as the content type of query results", 400)
        try:
            parsed: Query = parse(str(body.get("query") or ""))
        except SoqlError as problem:
            return error(problem.code, problem.message, 400)
        if parsed.count_only or parsed.offset:
            return error(
                "INVALIDJOB", "Aggregate functions, GROUP BY and OFFSET are not supported by Bulk API 2.0 query", 400
            )
        rows = parsed.run(self._payloads(parsed.sobject, include_deleted=operation == "queryAll"))
        job = bulk.QueryJob(
            id=opaque_id(BULK_JOB_PREFIX, self._next_serial()),
            operation=operation,
            sobject=parsed.sobject,
            fields=parsed.fields,
            query=parsed.text,
            version=version,
            created=self._now(),
            delimiter=delimiter,
            line_ending=line_ending,
            polls_left=self.bulk_polls_before_complete,
            record_ids=[row["Id"] for row in rows],
        )
        self.jobs.add(job)
        return json_response(job.info())

    def query_job(self, request: Request, version: str, job_id: str) -> Response:
        if not supported_version(version):
            return not_found()
        if request.method == "DELETE":
            return Response(status=204) if self.jobs.delete(job_id) else not_found()
        if request.method == "PATCH":
            body = read_json(request)
            if not isinstance(body, dict) or body.get("state") != "Aborted":
                return error("INVALIDJOBSTATE", "A query job can only be set to Aborted", 400)
            job = self.jobs.abort(job_id)
        else:
            job = self.jobs.poll(job_id)
        return json_response(job.info()) if job else not_found()

    def query_job_results(self, request: Request, version: str, job_id: str) -> Response:
        if not supported_version(version):
            return not_found()
        job = self.jobs.get(job_id)
        if job is None:
            return not_found()
        if job.state != "JobComplete":
            return error("INVALIDJOBSTATE", f"Results are not available: the job is {job.state}", 400)
        locator = request.args.get("locator")
        offset = 0 if not locator or locator == "null" else bulk.decode_locator(locator)
        if offset is None or offset > len(job.record_ids):
            return error("INVALID_LOCATOR", f"Invalid locator: {locator}", 400)
        size = request.args.get("maxRecords", type=int) or bulk.DEFAULT_MAX_RECORDS
        chunk = job.record_ids[offset : offset + max(1, size)]
        payloads = [p for p in (self.store.get(SYSTEM, job.sobject.name, i) for i in chunk) if p is not None]
        end = offset + len(chunk)
        payloads = [self._maybe_corrupt(p) for p in payloads]
        return Response(
            bulk.csv_page(job, payloads),
            status=200,
            content_type="text/csv",
            headers={
                "Sforce-Locator": bulk.encode_locator(end) if end < len(job.record_ids) else "null",
                "Sforce-NumberOfRecords": str(len(payloads)),
            },
        )
