"""The Odoo emulator: XML-RPC (/xmlrpc/2), JSON-RPC (/jsonrpc) and the JSON-2 API (/json/2) over one ORM."""

from __future__ import annotations

import json
import xmlrpc.client
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.odoo.errors import AccessDenied, OdooError, OdooTypeError
from canalis.sandbox.emulators.odoo.orm import Orm
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

DATABASE = "canalis"
LOGIN = "admin"
PASSWORD = "admin"  # noqa: S105 - the sandbox's published demo credentials
API_KEY = "canalis-sandbox-odoo-api-key-0001"
UID = 2
VERSION_KEY = "odoo:server_version"
DEFAULT_VERSION = "19.0"
RETRY_AFTER_SECONDS = "1"


def version_info(version: str) -> dict[str, Any]:
    """The answer of common.version() for a server version such as '19.0' or '17.0'."""
    major, _, minor = version.partition(".")
    return {
        "server_version": version,
        "server_version_info": [int(major), int(minor or 0), 0, "final", 0, ""],
        "server_serie": version,
        "protocol_version": 1,
    }


def _no_none(value: Any) -> Any:
    """Odoo's marshaller sends False where Python has None (XML-RPC has no nil by default)."""
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return [_no_none(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _no_none(item) for key, item in value.items()}
    return value


class OdooEmulator(Emulator):
    """Odoo's external API in its three forms, backed by the sandbox's object store."""

    prefix = "odoo"
    system = "odoo"
    title = "Odoo (XML-RPC, JSON-RPC, JSON-2)"
    routes = [
        ("/xmlrpc/2/common", ["POST"], "xmlrpc_common"),
        ("/xmlrpc/2/object", ["POST"], "xmlrpc_object"),
        ("/jsonrpc", ["POST"], "jsonrpc"),
        ("/json/2/<string:model>/<string:method>", ["POST"], "json2"),
        ("/web/version", ["GET"], "web_version"),
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.orm = Orm(store, self.faults)

    # -- configuration -----------------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        return {"database": DATABASE, "login": LOGIN, "password": PASSWORD, "api_key": API_KEY}

    @property
    def server_version(self) -> str:
        """The version this server reports (set `odoo:server_version` in the store's kv to change it)."""
        return str(self.store.kv_get(VERSION_KEY, DEFAULT_VERSION))

    def major_version(self) -> int:
        return int(self.server_version.split(".")[0].removeprefix("saas~"))

    # -- answers shared by every route -------------------------------------------------------------

    def auth_error(self, request: Request) -> Response | None:
        if "/json/2/" not in request.path:
            return None
        if self.major_version() < 19:
            return _html_not_found()
        scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() != API_KEY:
            return _json2_error("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401, [401])
        database = request.headers.get("X-Odoo-Database")
        if database is not None and database != DATABASE:
            return _json2_error("werkzeug.exceptions.NotFound", f"Database {database!r} not found", 404, [404])
        return None

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            return _json2_error(
                "werkzeug.exceptions.TooManyRequests",
                "Too many requests, retry later",
                429,
                [429],
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        return _json2_error(
            "werkzeug.exceptions.InternalServerError", "The server encountered an internal error", int(fault)
        )

    def not_found(self, request: Request) -> Response:
        return _html_not_found()

    # -- XML-RPC -----------------------------------------------------------------------------------

    def xmlrpc_common(self, request: Request) -> Response:
        return self._xmlrpc(request, self._common)

    def xmlrpc_object(self, request: Request) -> Response:
        return self._xmlrpc(request, self._object)

    def _xmlrpc(self, request: Request, service: Any) -> Response:
        try:
            params, method = xmlrpc.client.loads(request.get_data(), use_builtin_types=True)
        except Exception:  # any parse failure is a malformed call
            return _xml(xmlrpc.client.dumps(xmlrpc.client.Fault(1, "Malformed XML-RPC request")))
        try:
            result = service(method or "", list(params))
        except OdooError as error:
            return _xml(xmlrpc.client.dumps(xmlrpc.client.Fault(error.fault_code, error.fault_string())))
        return _xml(xmlrpc.client.dumps((_no_none(result),), methodresponse=True, allow_none=False))

    # -- JSON-RPC ----------------------------------------------------------------------------------

    def jsonrpc(self, request: Request) -> Response:
        body = read_json(request)
        request_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("params"), dict):
            return _jsonrpc_error(request_id, OdooTypeError("Invalid JSON-RPC request: params missing"))
        params = body["params"]
        service, method, args = params.get("service"), params.get("method"), params.get("args") or []
        try:
            if service == "common":
                result = self._common(str(method), list(args))
            elif service == "object":
                result = self._object(str(method), list(args))
            elif service == "db" and method == "list":
                result = [DATABASE]
            else:
                raise OdooTypeError(f"Unknown service or method {service!r}.{method!r}")
        except OdooError as error:
            return _jsonrpc_error(request_id, error)
        return json_response({"jsonrpc": "2.0", "id": request_id, "result": result})

    # -- JSON-2 ------------------------------------------------------------------------------------

    def json2(self, request: Request, model: str, method: str) -> Response:
        body = read_json(request)
        if body is None and not request.get_data():
            body = {}
        if not isinstance(body, dict):
            return _json2_error("werkzeug.exceptions.BadRequest", "The request body must be a JSON object", 400, [400])
        params = dict(body)
        ids = params.pop("ids", None)
        context = params.pop("context", None) or {}
        try:
            if ids is not None and (
                not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
            ):
                raise OdooTypeError("ids must be a list of integers")
            if not isinstance(context, dict):
                raise OdooTypeError("context must be an object")
            result = self.orm.call(model, method, ids, params, context)
        except OdooError as error:
            return _json2_error(error.name, error.message, error.http_status, error.arguments, context=context)
        if method == "create" and isinstance(result, int):
            result = [result]  # the new records travel as their ids, even when one mapping was given
        return json_response(result)

    def web_version(self, request: Request) -> Response:
        info = version_info(self.server_version)
        return json_response({"version_info": info["server_version_info"], "version": info["server_version"]})

    # -- services ----------------------------------------------------------------------------------

    def _common(self, method: str, args: list[Any]) -> Any:
        if method == "version":
            return version_info(self.server_version)
        if method == "about":
            return "See http://openerp.com"
        if method in ("authenticate", "login"):
            if len(args) < 3:
                raise OdooTypeError(f"{method}() missing required positional arguments")
            database, login, secret = args[0], args[1], args[2]
            self._check_database(database)
            return UID if login == LOGIN and secret in (PASSWORD, API_KEY) else False
        raise OdooTypeError(f"Method not available {method}")

    def _object(self, method: str, args: list[Any]) -> Any:
        if method not in ("execute_kw", "execute"):
            raise OdooTypeError(f"Method not available {method}")
        if len(args) < 5:
            raise OdooTypeError(f"{method}() missing required positional arguments")
        database, uid, secret, model, model_method = args[:5]
        self._check_database(database)
        if uid != UID or secret not in (PASSWORD, API_KEY):
            raise AccessDenied()
        if method == "execute_kw":
            positional = args[5] if len(args) > 5 else []
            named = args[6] if len(args) > 6 else {}
            if not isinstance(positional, list) or not isinstance(named, dict):
                raise OdooTypeError("execute_kw() expects a list of arguments and a dictionary of keyword arguments")
        else:
            positional, named = list(args[5:]), {}
        self.orm.model(str(model))
        ids, params, context = self.orm.bind(str(model_method), positional, named)
        return self.orm.call(str(model), str(model_method), ids, params, context)

    def _check_database(self, database: Any) -> None:
        if database != DATABASE:
            raise _DatabaseMissing(f'FATAL:  database "{database}" does not exist')


class _DatabaseMissing(OdooError):
    """psycopg2's error when the database named in the call does not exist."""

    name = "psycopg2.OperationalError"
    http_status = 404


def _xml(text: str) -> Response:
    return Response(text, status=200, content_type="text/xml; charset=utf-8")


def _html_not_found() -> Response:
    body = (
        "<!doctype html><html lang=en><title>404 Not Found</title><h1>Not Found</h1>"
        "<p>The requested URL was not found on the server.</p>"
    )
    return Response(body, status=404, content_type="text/html; charset=utf-8")


def _json2_error(
    name: str,
    message: str,
    status: int,
    extra_arguments: list[Any] | None = None,
    *,
    context: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    arguments: list[Any] = [message, *[argument for argument in (extra_arguments or []) if argument != message]]
    body = {"name": name, "message": message, "arguments": arguments, "context": context or {}, "debug": ""}
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


def _jsonrpc_error(request_id: Any, error: OdooError) -> Response:
    data = {
        "name": error.name,
        "debug": error.fault_string() if error.fault_code == 1 else "",
        "message": error.message,
        "arguments": error.arguments,
        "context": {},
    }
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": 200, "message": "Odoo Server Error", "data": data}}
    return json_response(body)
