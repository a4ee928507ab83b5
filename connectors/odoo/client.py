"""Calling Odoo's ORM over the JSON-2 API (Odoo 19+), XML-RPC or JSON-RPC, through Canalis's HTTP layer."""

from __future__ import annotations

import itertools
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from typing import Any, Literal

import requests
from defusedxml.xmlrpc import DefusedExpatParser

from canalis.connectors.odoo.settings import OdooSettings
from canalis.sdk import ApiError, ConfigError, HttpClient, RateLimiter, response_cap

SYSTEM = "odoo"
JSON2_MIN_MAJOR = 19
Wire = Literal["json2", "xmlrpc", "jsonrpc"]
FAULT_KINDS = {1: "application", 2: "user_error", 3: "access_denied", 4: "access_error"}
_EXCEPTION_KINDS = {
    "odoo.exceptions.AccessDenied": "access_denied",
    "odoo.exceptions.AccessError": "access_error",
    "odoo.exceptions.UserError": "user_error",
    "odoo.exceptions.ValidationError": "user_error",
    "odoo.exceptions.MissingError": "user_error",
}


class OdooCallError(ApiError):
    """Odoo answered a call with an error (an XML-RPC fault, a JSON-RPC error or a JSON-2 error status)."""

    def __init__(self, *, call: str, status: int | None, kind: str, detail: str) -> None:
        super().__init__(system=SYSTEM, call=call, status=status, detail=detail, retryable=False)
        self.kind = kind


class OdooClient:
    """One Odoo server: picks the protocol, signs in and runs ORM methods with named parameters."""

    def __init__(
        self,
        settings: OdooSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        secrets = [value for value in (settings.secret(), _plain(settings.password)) if value]
        limiter = RateLimiter(settings.requests_per_second) if settings.requests_per_second > 0 else None
        self.http = HttpClient(
            SYSTEM,
            settings.url,
            timeout=(10.0, settings.timeout_seconds),
            max_attempts=settings.max_attempts,
            max_response_bytes=response_cap(settings),
            rate_limiter=limiter,
            secrets=secrets,
            session=session,
            sleep=sleep,
        )
        self._wire: Wire | None = None if settings.protocol == "auto" else settings.protocol
        self._version: dict[str, Any] | None = None
        self._uid: int | None = None
        self._field_types: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OdooClient(url={self.http.redact(self.settings.url)!r}, protocol={self.settings.protocol!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    # -- protocol and sign-in ----------------------------------------------------------------------

    def server_version(self) -> dict[str, Any]:
        """common.version() of the server: server_version and server_version_info."""
        if self._version is None:
            self._version = self._probe_version()
        return self._version

    def _probe_version(self) -> dict[str, Any]:
        if self._wire == "jsonrpc":
            return self._jsonrpc("common", "version", [])
        if self._wire == "json2":
            return self._web_version()
        try:
            return self._xmlrpc("common", "version", [])
        except ApiError as error:
            if error.status != 404:
                raise
            return self._web_version()  # XML-RPC removed (Odoo 20+ / 22+): the JSON-2 era's version route

    def _web_version(self) -> dict[str, Any]:
        body = self.http.get_json("/web/version", call="GET /web/version")
        if not isinstance(body, dict) or "version_info" not in body:
            raise ApiError(system=SYSTEM, call="GET /web/version", status=200, detail="unexpected answer")
        return {"server_version": body.get("version"), "server_version_info": body["version_info"]}

    def major_version(self) -> int:
        """The server's major version (17, 18, 19...)."""
        info = self.server_version().get("server_version_info") or [0]
        try:
            return int(info[0])
        except (TypeError, ValueError):
            return int(str(self.server_version().get("server_version", "0")).split(".")[0].split("~")[-1] or 0)

    @property
    def wire(self) -> Wire:
        """The protocol in use: the configured one, or JSON-2 on Odoo 19+ with an API key, else XML-RPC."""
        if self._wire is None:
            major = self.major_version()
            self._wire = "json2" if major >= JSON2_MIN_MAJOR and self.settings.api_key is not None else "xmlrpc"
        return self._wire

    def uid(self) -> int:
        """The user id of the integration user (XML-RPC/JSON-RPC), from common.authenticate()."""
        if self._uid is None:
            with self._lock:
                if self._uid is None:
                    self._uid = self._authenticate()
        return self._uid

    def _authenticate(self) -> int:
        settings = self.settings
        args = [settings.database, settings.login, settings.secret(), {}]
        call = self._jsonrpc if self.wire == "jsonrpc" else self._xmlrpc
        uid = call("common", "authenticate", args)
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise self._auth_refused()
        return uid

    def _auth_refused(self) -> ConfigError:
        setting = "api_key" if self.settings.api_key is not None else "password"
        who = f" for login '{self.settings.login}'" if self.settings.login and self.wire != "json2" else ""
        where = f" on database '{self.settings.database}'" if self.settings.database else ""
        return ConfigError(f"odoo: the server refused the credentials{who}{where}; check '{setting}'", setting=setting)

    # -- ORM calls ---------------------------------------------------------------------------------

    def execute(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        context: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        """Run `model.method` with named parameters (None values are left out) on the configured protocol."""
        named = {key: value for key, value in params.items() if value is not None}
        if context:
            named["context"] = context
        if self.wire == "json2":
            return self._json2(model, method, ids, named)
        positional: list[Any] = [ids] if ids is not None else []
        args = [self.settings.database, self.uid(), self.settings.secret(), model, method, positional, named]
        if self.wire == "jsonrpc":
            return self._jsonrpc("object", "execute_kw", args, call=f"{model}.{method}")
        return self._xmlrpc("object", "execute_kw", args, call=f"{model}.{method}")

    def field_types(self, model: str) -> dict[str, str]:
        """Field name -> type of a model on this server (from fields_get, cached)."""
        if model not in self._field_types:
            described = self.execute(model, "fields_get", attributes=["type"])
            if not isinstance(described, dict):
                raise OdooCallError(call=f"{model}.fields_get", status=200, kind="application", detail="not a dict")
            self._field_types[model] = {name: str(info.get("type", "")) for name, info in described.items()}
        return self._field_types[model]

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """search_read with Odoo's empty `false` turned into None for every non-boolean field."""
        rows = self.execute(
            model, "search_read", domain=domain, fields=fields, limit=limit, order=order, context=context
        )
        if not isinstance(rows, list):
            raise OdooCallError(call=f"{model}.search_read", status=200, kind="application", detail="not a list")
        return [decode_record(row, self.field_types(model)) for row in rows]

    def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """read() of some records, with `false` decoded as in search_read."""
        if not ids:
            return []
        rows = self.execute(model, "read", ids=ids, fields=fields)
        if not isinstance(rows, list):
            raise OdooCallError(call=f"{model}.read", status=200, kind="application", detail="not a list")
        return [decode_record(row, self.field_types(model)) for row in rows]

    # -- wire formats ------------------------------------------------------------------------------

    def _json2(self, model: str, method: str, ids: list[int] | None, named: dict[str, Any]) -> Any:
        api_key = self.settings.api_key
        if api_key is None:
            raise ConfigError("odoo: the JSON-2 API needs 'api_key' (CANALIS_ODOO_API_KEY)", setting="api_key")
        headers = {"Authorization": f"bearer {api_key.get_secret_value()}"}
        if self.settings.database:
            headers["X-Odoo-Database"] = self.settings.database
        body = {**named, **({"ids": ids} if ids is not None else {})}
        call = f"POST /json/2/{model}/{method}"
        try:
            return self.http.post_json(f"/json/2/{model}/{method}", body, headers=headers, call=call)
        except ApiError as error:
            if error.status == 401:
                raise self._auth_refused() from None
            if error.status is not None and 400 <= error.status < 500 and not isinstance(error, OdooCallError):
                kind = {403: "access_error", 404: "user_error", 422: "user_error"}.get(error.status, "application")
                raise OdooCallError(call=call, status=error.status, kind=kind, detail=error.detail) from None
            raise

    def _xmlrpc(self, service: str, method: str, args: list[Any], *, call: str | None = None) -> Any:
        call = f"POST /xmlrpc/2/{service} {call or method}"
        body = xmlrpc.client.dumps(tuple(args), methodname=method, allow_none=True)
        response = self.http.request(
            "POST", f"/xmlrpc/2/{service}", data=body.encode(), headers={"Content-Type": "text/xml"}, call=call
        )
        try:
            (result,) = xmlrpc_loads(response.content)
        except xmlrpc.client.Fault as fault:
            kind = (
                FAULT_KINDS.get(fault.faultCode, "application") if isinstance(fault.faultCode, int) else "application"
            )
            raise self._fault(call, kind, str(fault.faultString)) from None
        except Exception as error:  # the body is not an XML-RPC answer (a proxy page, a cut connection)
            snippet = self.http.redact(" ".join(response.text[:100].split()))
            raise ApiError(
                system=SYSTEM, call=call, status=response.status_code, detail=f"not an XML-RPC answer: {snippet}"
            ) from error
        return result

    def _jsonrpc(self, service: str, method: str, args: list[Any], *, call: str | None = None) -> Any:
        call = f"POST /jsonrpc {service}.{call or method}"
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        body = self.http.post_json("/jsonrpc", payload, call=call)
        if not isinstance(body, dict):
            raise ApiError(system=SYSTEM, call=call, status=200, detail="not a JSON-RPC answer")
        error = body.get("error")
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            kind = _EXCEPTION_KINDS.get(str(data.get("name")), "application")
            message = data.get("message") or error.get("message") or "Odoo Server Error"
            raise self._fault(call, kind, str(message))
        return body.get("result")

    def _fault(self, call: str, kind: str, text: str) -> Exception:
        message = text.strip().splitlines()[-1] if kind == "application" and text.strip() else text.strip()
        if kind == "access_denied":
            return self._auth_refused()
        return OdooCallError(call=call, status=200, kind=kind, detail=self.http.redact(message)[:300])


def decode_record(row: Any, types: dict[str, str]) -> Any:
    """Odoo sends `false` for empty non-boolean fields; turn those into None so that empty means empty."""
    if not isinstance(row, dict):
        return row
    return {
        key: None if value is False and types.get(key, "boolean") != "boolean" else value for key, value in row.items()
    }


def _plain(secret: Any) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def xmlrpc_loads(content: bytes) -> tuple[Any, ...]:
    """The parameters of an XML-RPC answer, parsed without DTDs, entities or external references (a hostile
    answer cannot expand or fetch anything); raises `xmlrpc.client.Fault` for a fault answer."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_builtin_types=True)
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser.feed(content)
    parser.close()
    return unmarshaller.close()
