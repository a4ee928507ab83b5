"""The base every vendor emulator derives from: routing, JSON answers, and the shared object store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import orjson
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.faults import FaultPlan

Handler = Callable[..., Response]

# Values orjson would write otherwise than the json module (dataclasses, datetimes, subclasses of str, int, dict and
# list) are passed to `default`, which refuses them, so that json writes them (or refuses them) as it always did.
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


class Emulator:
    """One vendor's API under a path prefix (e.g. /hubspot); subclasses declare `routes` and handlers.

    `routes` is a list of (werkzeug rule, methods, handler method name). Handlers receive the request and
    the rule's arguments and return a Response. `auth_error` must return the vendor's own answer for
    missing or wrong credentials, or None when the request is authorised.
    """

    prefix: ClassVar[str]
    system: ClassVar[str]
    title: ClassVar[str] = ""
    routes: ClassVar[list[tuple[str, list[str], str]]] = []

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        self.store = store
        self.faults = faults or FaultPlan()
        self.url_map = Map(
            [Rule(rule, methods=methods, endpoint=endpoint) for rule, methods, endpoint in self.routes],
            strict_slashes=False,
        )

    def credentials(self) -> dict[str, str]:
        """The credentials a client needs against this emulator (printed by `canalis sandbox serve`)."""
        return {}

    def auth_error(self, request: Request) -> Response | None:
        """The vendor's answer to missing or wrong credentials, or None when authorised."""
        return None

    def fault_response(self, fault: str) -> Response:
        """The vendor's answer when a 429 or 5xx fault is injected (override for vendor-specific bodies)."""
        if fault == "429":
            return json_response({"message": "rate limit exceeded"}, 429, headers={"Retry-After": "1"})
        return json_response({"message": "internal server error"}, int(fault))

    def not_found(self, request: Request) -> Response:
        return json_response({"message": f"no route for {request.method} {request.path}"}, 404)

    def dispatch(self, request: Request, path: str) -> Response:
        """Route a request whose path has the prefix removed."""
        denied = self.auth_error(request)
        if denied is not None:
            return denied
        adapter = self.url_map.bind("sandbox", path_info=path or "/")
        try:
            endpoint, arguments = adapter.match(method=request.method)
        except NotFound:
            return self.not_found(request)
        except MethodNotAllowed:
            return json_response({"message": f"method {request.method} not allowed on {request.path}"}, 405)
        except HTTPException as error:  # redirects and other routing answers
            return error.get_response()
        handler: Handler = getattr(self, endpoint)
        return handler(request, **arguments)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (compact UTF-8)."""
    return Response(encode_json(body), status=status, headers=headers or {}, content_type="application/json")


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON: orjson, or the json module for what orjson refuses (integers beyond 64 bits, keys that
    are not strings, values the json module writes its own way)."""
    try:
        return orjson.dumps(body, option=ORJSON_OPTIONS)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def read_json(request: Request) -> Any:
    """The request's JSON body, or None when it has none or it does not parse."""
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
