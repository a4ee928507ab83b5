"""The Salesforce emulator: REST query/queryAll, sObject rows and upsert, describe, composite collections,
limits, Bulk API 2.0 query jobs, and the SOAP and OAuth logins, served from the sandbox object store."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.salesforce import auth, bulk
from canalis.sandbox.emulators.salesforce.composite import MAX_COLLECTION_RECORDS, CollectionRoutes
from canalis.sandbox.emulators.salesforce.ids import (
    QUERY_LOCATOR_PREFIX,
    fresh_record_id,
    is_record_id,
    opaque_id,
    to_18,
)
from canalis.sandbox.emulators.salesforce.jobs import QueryJobRoutes
from canalis.sandbox.emulators.salesforce.records import (
    BodyError,
    record_url,
    render,
    render_all,
    updated_payload,
)
from canalis.sandbox.emulators.salesforce.schema import SOBJECTS, FieldDef, SObjectDef, sobject
from canalis.sandbox.emulators.salesforce.soql import SoqlError, parse, stored_datetime
from canalis.sandbox.emulators.salesforce.wire import (
    error,
    invalid_session,
    not_found,
    supported_version,
    version_list,
)
from canalis.sandbox.objectstore import format_timestamp
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

SYSTEM = "salesforce"
DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_OPEN_CURSORS = 200
DAILY_API_REQUESTS = 1_000_000
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_PUBLIC_PATHS = re.compile(r"^/services/(oauth2/token|Soap/u/[^/]+|data)/?$")
V = "/services/data/v<version>"


@dataclass
class _Cursor:
    """An open query cursor: the ids its query matched, in order, and how to render them."""

    sobject: SObjectDef
    fields: list[FieldDef]
    ids: list[str]
    batch_size: int


class SalesforceEmulator(CollectionRoutes, QueryJobRoutes, Emulator):
    """Salesforce REST, Composite, Bulk API 2.0 and login endpoints under /salesforce."""

    prefix = "salesforce"
    system = SYSTEM
    title = "Salesforce (REST, Composite, Bulk API 2.0)"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        ("/services/oauth2/token", ["POST"], "oauth_token"),
        ("/services/Soap/u/<version>", ["POST"], "soap_login"),
        ("/services/data", ["GET"], "versions"),
        (V, ["GET"], "resources"),
        (f"{V}/limits", ["GET"], "limits"),
        (f"{V}/query", ["GET"], "query"),
        (f"{V}/query/<locator>", ["GET"], "query_more"),
        (f"{V}/queryAll", ["GET"], "query_all"),
        (f"{V}/queryAll/<locator>", ["GET"], "query_more"),
        (f"{V}/sobjects", ["GET"], "describe_global"),
        (f"{V}/sobjects/<name>", ["GET", "POST"], "sobject_root"),
        (f"{V}/sobjects/<name>/describe", ["GET"], "describe"),
        (f"{V}/sobjects/<name>/<record_id>", ["GET", "PATCH", "DELETE"], "record"),
        (f"{V}/sobjects/<name>/<field>/<path:value>", ["GET", "PATCH", "DELETE"], "by_external_id"),
        (f"{V}/composite/sobjects", ["POST", "PATCH", "DELETE"], "collections"),
        (f"{V}/composite/sobjects/<name>", ["GET", "PATCH", "DELETE"], "collections_named"),
        (f"{V}/composite/sobjects/<name>/<field>", ["PATCH"], "collections_upsert"),
        (f"{V}/jobs/query", ["GET", "POST"], "query_jobs"),
        (f"{V}/jobs/query/<job_id>", ["GET", "PATCH", "DELETE"], "query_job"),
        (f"{V}/jobs/query/<job_id>/results", ["GET"], "query_job_results"),
    ]

    #: status requests a Bulk API 2.0 query job answers InProgress before it completes
    bulk_polls_before_complete: int = 1
    #: the org's daily API request allowance (Sforce-Limit-Info, /limits, REQUEST_LIMIT_EXCEEDED)
    daily_api_requests: int = DAILY_API_REQUESTS

    def __init__(self, store, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.sandbox_credentials = auth.SandboxCredentials()
        self.sessions = auth.Sessions(store, self.sandbox_credentials)
        self.jobs = bulk.QueryJobs()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._api_calls = 0
        self._last_stamp: datetime | None = None
        self._serial = 0

    # -- framework hooks ----------------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        return self.sandbox_credentials.as_dict()

    def auth_error(self, request: Request) -> Response | None:
        path = request.path.removeprefix(f"/{self.prefix}")
        if _PUBLIC_PATHS.match(path):
            return None
        token = auth.bearer_token(request)
        if token is None or not self.sessions.valid(token):
            return invalid_session()
        with self._lock:
            self._api_calls += 1
            over = self._api_calls > self.daily_api_requests
        if over:
            return error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403)
        return None

    def dispatch(self, request: Request, path: str) -> Response:
        response = super().dispatch(request, path)
        if path.startswith("/services/data/v"):
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_usage()}/{self.daily_api_requests}"
        return response

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            return error(
                "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", 429, headers={"Retry-After": "1"}
            )
        if fault == "500":
            return error(
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you "
                "contact support: 1961728105-14721 (-1131280722)",
                500,
            )
        return error("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later.", int(fault))

    def not_found(self, request: Request) -> Response:
        return not_found()

    # -- helpers ------------------------------------------------------------------------------------

    def api_usage(self) -> int:
        with self._lock:
            return self._api_calls

    def expire_sessions(self) -> None:
        """Invalidate every session issued by a login, as an org's session timeout would."""
        self.sessions.expire_all()

    def instance_url(self, request: Request) -> str:
        return f"{request.host_url.rstrip('/')}/{self.prefix}"

    def _now(self) -> datetime:
        """A strictly increasing clock, never behind the generated world, so incremental reads see every write."""
        with self._lock:
            if self._last_stamp is None:
                self._last_stamp = self._newest_stored_stamp()
            now = datetime.now(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            stamp = max(now, self._last_stamp + timedelta(milliseconds=1))
            self._last_stamp = stamp
            return stamp

    def _newest_stored_stamp(self) -> datetime:
        """The latest modification stamp in the store (the world's clock, or later stamps it holds)."""
        spec = self.store.kv_get("world:spec") or {}
        newest = datetime.fromisoformat(spec["now"]) if spec.get("now") else datetime(2000, 1, 1, tzinfo=UTC)
        for name in SOBJECTS:
            after: tuple[str, str] | None = None
            while batch := self.store.page(
                SYSTEM,
                name,
                limit=1000,
                order_by="updated_at",
                updated_since=format_timestamp(newest),
                after_updated=after,
            ):
                after = (batch[-1].updated_at, batch[-1].object_id)
            if after is not None:
                newest = max(newest, stored_datetime(after[0]) or newest)
        return newest

    def _next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    def _new_record_id(self, definition: SObjectDef) -> str:
        while True:
            number = self.store.next_numeric_id(SYSTEM, f"{definition.name}:emulator")
            record_id = fresh_record_id(definition.name, number)
            if self.store.get(SYSTEM, definition.name, record_id) is None:
                return record_id

    def _payloads(self, definition: SObjectDef, *, include_deleted: bool) -> list[dict[str, Any]]:
        return [
            stored.payload
            for stored in self.store.iter_all(SYSTEM, definition.name)
            if include_deleted or not stored.payload.get("IsDeleted")
        ]

    def _load(self, definition: SObjectDef, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        if not is_record_id(record_id):
            return None
        payload = self.store.get(SYSTEM, definition.name, to_18(record_id))
        if payload is None or (payload.get("IsDeleted") and not include_deleted):
            return None
        return payload

    def _save(self, definition: SObjectDef, payload: dict[str, Any]) -> None:
        stamp = stored_datetime(payload["SystemModstamp"])
        assert stamp is not None
        self.store.put(SYSTEM, definition.name, payload["Id"], payload, updated_at=format_timestamp(stamp))

    def _maybe_corrupt(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record spoilt by an injected `malformed` fault: an unreadable timestamp, or no id."""
        if not self.faults.corrupt_record(SYSTEM):
            return record
        spoilt = dict(record)
        if "SystemModstamp" in spoilt:
            spoilt["SystemModstamp"] = "2026-13-45T99:99:99.000+0000"
        else:
            spoilt["Id"] = None
        return spoilt

    # -- versions, resources, limits, describe -------------------------------------------------------

    def versions(self, request: Request) -> Response:
        return json_response(version_list())

    def resources(self, request: Request, version: str) -> Response:
        if not supported_version(version):
            return not_found()
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
        return json_response({name: f"{base}/{name}" for name in names})

    def limits(self, request: Request, version: str) -> Response:
        if not supported_version(version):
            return not_found()
        used = self.api_usage()
        jobs = len(self.jobs.all())
        return json_response(
            {
                "DailyApiRequests": {
                    "Max": self.daily_api_requests,
                    "Remaining": max(0, self.daily_api_requests - used),
                },
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": max(0, 10000 - jobs)},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                "DataStorageMB": {"Max": 1024, "Remaining": 1000},
                "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            }
        )

    def describe_global(self, request: Request, version: str) -> Response:
        if not supported_version(version):
            return not_found()
        return json_response(
            {
                "encoding": "UTF-8",
                "maxBatchSize": MAX_COLLECTION_RECORDS,
                "sobjects": [definition.summary(version) for definition in SOBJECTS.values()],
            }
        )

    def describe(self, request: Request, version: str, name: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        return json_response(definition.describe(version))

    # -- query ----------------------------------------------------------------------------------------

    def query(self, request: Request, version: str) -> Response:
        return self._query(request, version, include_deleted=False)

    def query_all(self, request: Request, version: str) -> Response:
        return self._query(request, version, include_deleted=True)

    def _batch_size(self, request: Request, default: int = DEFAULT_BATCH_SIZE) -> int:
        match = _BATCH_SIZE.search(request.headers.get("Sforce-Query-Options", ""))
        if match is None:
            return default
        return max(MIN_BATCH_SIZE, min(DEFAULT_BATCH_SIZE, int(match.group(1))))

    def _query(self, request: Request, version: str, *, include_deleted: bool) -> Response:
        if not supported_version(version):
            return not_found()
        text = request.args.get("q")
        if not text:
            return error("MALFORMED_QUERY", "A query string has to be specified", 400)
        try:
            parsed = parse(text)
        except SoqlError as problem:
            return error(problem.code, problem.message, 400)
        rows = parsed.run(self._payloads(parsed.sobject, include_deleted=include_deleted))
        if parsed.count_only:
            return json_response({"totalSize": len(rows), "done": True, "records": []})
        batch_size = self._batch_size(request)
        cursor = _Cursor(parsed.sobject, parsed.fields, [row["Id"] for row in rows], batch_size)
        endpoint = "queryAll" if include_deleted else "query"
        return self._query_page(cursor, rows[:batch_size], 0, version, endpoint)

    def _query_page(
        self,
        cursor: _Cursor,
        payloads: list[dict[str, Any]],
        offset: int,
        version: str,
        endpoint: str,
        locator: str | None = None,
    ) -> Response:
        records = [self._maybe_corrupt(render(cursor.sobject, p, cursor.fields, version)) for p in payloads]
        end = offset + cursor.batch_size
        body: dict[str, Any] = {"totalSize": len(cursor.ids), "done": end >= len(cursor.ids)}
        if not body["done"]:
            if locator is None:
                locator = opaque_id(QUERY_LOCATOR_PREFIX, self._next_serial())
                with self._lock:
                    self._cursors[locator] = cursor
                    while len(self._cursors) > MAX_OPEN_CURSORS:
                        self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
        body["records"] = records
        return json_response(body)

    def query_more(self, request: Request, version: str, locator: str) -> Response:
        if not supported_version(version):
            return not_found()
        cursor_id, _, offset_text = locator.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.ids):
            return error("INVALID_QUERY_LOCATOR", "invalid query locator", 400)
        offset = int(offset_text)
        batch_size = self._batch_size(request, cursor.batch_size)
        cursor = _Cursor(cursor.sobject, cursor.fields, cursor.ids, batch_size)
        payloads = []
        for record_id in cursor.ids[offset : offset + batch_size]:
            payload = self.store.get(SYSTEM, cursor.sobject.name, record_id)
            if payload is not None:
                payloads.append(payload)
        endpoint = "queryAll" if request.path.rstrip("/").split("/")[-2] == "queryAll" else "query"
        return self._query_page(cursor, payloads, offset, version, endpoint, locator=cursor_id)

    # -- sObject rows ---------------------------------------------------------------------------------

    def sobject_root(self, request: Request, version: str, name: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        if request.method == "GET":
            recent = [
                render(definition, p, [definition.fields[0]], version)
                for p in self._payloads(definition, include_deleted=False)[-10:]
            ]
            return json_response({"objectDescribe": definition.summary(version), "recentItems": recent})
        body = read_json(request)
        if not isinstance(body, dict):
            return error("JSON_PARSER_ERROR", "The request body is not a JSON object", 400)
        if "Id" in body or "id" in body:
            return error(
                "INVALID_FIELD",
                "Unable to create/update fields: Id. Please check the security settings "
                "of this field and verify that it is read/write for your profile or permission set.",
                400,
                fields=["Id"],
            )
        try:
            planned = self._plan_create(definition, body, version)
        except BodyError as problem:
            return error(problem.code, problem.message, 400)
        if planned.errors:
            return json_response([e.as_rest_error() for e in planned.errors], 400)
        assert planned.payload is not None
        self._save(definition, planned.payload)
        return json_response({"id": planned.record_id, "success": True, "errors": []}, 201)

    def record(self, request: Request, version: str, name: str, record_id: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        payload = self._load(definition, record_id)
        if payload is None:
            return not_found()
        return self._on_record(request, version, definition, payload)

    def _on_record(self, request: Request, version: str, definition: SObjectDef, payload: dict[str, Any]) -> Response:
        if request.method == "GET":
            wanted = request.args.get("fields")
            if not wanted:
                return json_response(render_all(definition, payload, version))
            fields = []
            for name in wanted.split(","):
                target = definition.field(name.strip())
                if target is None:
                    return error(
                        "INVALID_FIELD",
                        f"No such column '{name.strip()}' on entity '{definition.name}'. "
                        "If you are attempting to use a custom field, be sure to append the '__c' after the "
                        "custom field name. Please reference your WSDL or the describe call for the "
                        "appropriate names.",
                        400,
                    )
                fields.append(target)
            return json_response(render(definition, payload, fields, version))
        if request.method == "DELETE":
            self._delete(definition, payload)
            return Response(status=204)
        body = read_json(request)
        if not isinstance(body, dict):
            return error("JSON_PARSER_ERROR", "The request body is not a JSON object", 400)
        try:
            planned = self._plan_update(definition, payload, body)
        except BodyError as problem:
            return error(problem.code, problem.message, 400)
        if planned.errors:
            return json_response([e.as_rest_error() for e in planned.errors], 400)
        assert planned.payload is not None
        self._save(definition, planned.payload)
        return Response(status=204)

    def _delete(self, definition: SObjectDef, payload: dict[str, Any]) -> None:
        """Move a record to the recycle bin: queryAll still returns it, with IsDeleted true."""
        stamp = self._now()
        self._save(definition, updated_payload(definition, {**payload, "IsDeleted": True}, {}, stamp))

    def _matches(self, definition: SObjectDef, target: FieldDef, value: str) -> list[dict[str, Any]]:
        if target.name == "Id":
            found = self._load(definition, value)
            return [found] if found else []
        wanted = value.lower()
        return [
            p
            for p in self._payloads(definition, include_deleted=False)
            if p.get(target.name) is not None and str(p[target.name]).lower() == wanted
        ]

    def by_external_id(self, request: Request, version: str, name: str, field: str, value: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        target = definition.field(field)
        if target is None or target not in definition.external_id_fields():
            return not_found()
        matches = self._matches(definition, target, value)
        if len(matches) > 1:
            return json_response([record_url(version, definition.name, m["Id"]) for m in matches], 300)
        if request.method in ("GET", "DELETE"):
            if not matches:
                return not_found()
            return self._on_record(request, version, definition, matches[0])
        body = read_json(request)
        if not isinstance(body, dict):
            return error("JSON_PARSER_ERROR", "The request body is not a JSON object", 400)
        values = {k: v for k, v in body.items() if k.lower() != target.name.lower()}
        try:
            if matches:
                planned = self._plan_update(definition, matches[0], values)
                planned.created = False
            elif request.args.get("updateOnly", "").lower() == "true" or target.name == "Id":
                return not_found()
            else:
                planned = self._plan_create(definition, {**values, target.name: value}, version)
                planned.created = True
        except BodyError as problem:
            return error(problem.code, problem.message, 400)
        if planned.errors:
            return json_response([e.as_rest_error() for e in planned.errors], 400)
        assert planned.payload is not None
        self._save(definition, planned.payload)
        result = {"id": planned.record_id, "success": True, "errors": [], "created": planned.created}
        if planned.created:
            return json_response(result, 201)
        if float(version) < 46:
            return Response(status=204)
        return json_response(result, 200)

    # -- logins ---------------------------------------------------------------------------------------

    def soap_login(self, request: Request, version: str) -> Response:
        return auth.soap_login(request, self.sessions, self.instance_url(request), version)

    def oauth_token(self, request: Request) -> Response:
        return auth.oauth_token(request, self.sessions, self.instance_url(request))
