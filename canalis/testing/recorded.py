"""Recorded responses: a plugin's sample API answers, served to its connector in place of the vendor.

A recording is a list of exchanges, in YAML or JSON files (a file, or every file of a folder), or given directly:

    - request: {method: GET, path: /3.0/lists/abc/members, params: {offset: "0", count: "2"}}
      response: {status: 200, headers: {X-Total: "3"}, body: {members: [...], total_items: 3}}

A call matches an exchange when the method and the URL's path are the same and every recorded parameter (and
every recorded key of a JSON body, as a subset) has the value sent; among several, the one recording the most
parameters wins. Parameters not recorded are not compared: an exchange recorded without the incremental bound
answers every bound, which is how a read is tested against a vendor that ignores it. The server also injects
faults (429 with Retry-After, 5xx, dropped connections), corrupts a record, and keeps every call it saw.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
import yaml


@dataclass(frozen=True)
class Exchange:
    """One recorded call and its answer."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    source: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> Exchange:
        """An exchange from its recorded form; ValueError naming the file and what is wrong."""
        request, response = raw.get("request"), raw.get("response", {})
        if not isinstance(request, Mapping) or "path" not in request:
            raise ValueError(f"{source}: each exchange needs request.path (and request.method, GET by default)")
        if not isinstance(response, Mapping):
            raise ValueError(f"{source}: response must be a mapping with status, headers and body")
        return cls(
            method=str(request.get("method", "GET")).upper(),
            path="/" + str(request["path"]).lstrip("/"),
            params={str(key): _text(value) for key, value in (request.get("params") or {}).items()},
            json=request.get("json"),
            status=int(response.get("status", 200)),
            headers={str(key): str(value) for key, value in (response.get("headers") or {}).items()},
            body=response.get("body"),
            source=source,
        )

    def describe(self) -> str:
        query = "&".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.method} {self.path}{'?' + query if query else ''} ({self.source})"

    def matches(self, call: Call) -> int | None:
        """How specific this exchange is for the call (recorded parameters matched), or None when it does not fit."""
        if call.method != self.method or call.path != self.path:
            return None
        if any(call.params.get(key) != value for key, value in self.params.items()):
            return None
        if self.json is not None and not _subset(self.json, call.json):
            return None
        return len(self.params) + (1 if self.json is not None else 0)


@dataclass
class Call:
    """A call the connector made: what it sent, and which exchange answered it."""

    method: str
    url: str
    path: str
    params: dict[str, str]
    json: Any
    headers: dict[str, str]
    answered_by: Exchange | None = None
    fault: str | None = None


def load_exchanges(source: Any) -> list[Exchange]:
    """Exchanges from a file, a folder of .yaml/.yml/.json files, or a list of recorded exchanges."""
    if isinstance(source, str | Path):
        path = Path(source)
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() else [path]
        if not files:
            raise ValueError(f"{path}: no recorded responses (.yaml, .yml or .json files)")
        exchanges: list[Exchange] = []
        for file in files:
            document = yaml.safe_load(file.read_text(encoding="utf-8"))
            items = document.get("exchanges", document) if isinstance(document, dict) else document
            if not isinstance(items, list):
                raise ValueError(f"{file}: expected a list of exchanges (request, response)")
            exchanges += [Exchange.parse(item, f"{file.name}#{n + 1}") for n, item in enumerate(items)]
        return exchanges
    if isinstance(source, Iterable):
        return [
            item if isinstance(item, Exchange) else Exchange.parse(item, f"exchange #{n + 1}")
            for n, item in enumerate(source)
        ]
    raise TypeError("responses must be a path to recorded responses or a list of exchanges")


Fault = str
"""'429' (with Retry-After), '500'..'504', or 'drop' (the connection breaks before an answer)."""


class RecordedServer:
    """Answers the connector's HTTP calls from recorded exchanges (through `responses`), while active."""

    def __init__(self, exchanges: list[Exchange], *, retry_after: int = 3) -> None:
        self.exchanges = exchanges
        self.retry_after = retry_after
        self.calls: list[Call] = []
        self.unmatched: list[Call] = []
        self.used: set[int] = set()
        self.faults: list[Fault] = []
        self.answer_all: tuple[int, Any] | None = None
        self.corrupt: Callable[[Any], Any] | None = None

    @contextmanager
    def active(self) -> Iterator[RecordedServer]:
        """Serve the recordings to every `requests` call made inside the block."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                mock.add_callback(method, re.compile(r".*"), callback=self._answer)
            yield self

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        call = _call_of(request)
        self.calls.append(call)
        if self.faults:
            call.fault = self.faults.pop(0)
            if call.fault == "drop":
                raise requests.ConnectionError("connection dropped by the test server")
            headers = {"Retry-After": str(self.retry_after)} if call.fault == "429" else {}
            return int(call.fault), headers, json.dumps({"message": f"injected {call.fault}"})
        if self.answer_all is not None:
            status, body = self.answer_all
            return status, {}, json.dumps(body)
        exchange = self.match(call)
        if exchange is None:
            self.unmatched.append(call)
            message = f"no recorded response for {call.method} {call.path} {call.params or ''}".strip()
            return 404, {}, json.dumps({"message": message})
        call.answered_by = exchange
        self.used.add(id(exchange))
        body = exchange.body
        if self.corrupt is not None:
            body = self.corrupt(copy.deepcopy(body))
        if body is None or exchange.status in (204, 304):
            text = ""
        else:
            text = body if isinstance(body, str) else json.dumps(body)
        return exchange.status, dict(exchange.headers), text

    def match(self, call: Call) -> Exchange | None:
        """The most specific exchange recorded for the call."""
        best: tuple[int, Exchange] | None = None
        for exchange in self.exchanges:
            score = exchange.matches(call)
            if score is not None and (best is None or score > best[0]):
                best = (score, exchange)
        return best[1] if best else None

    def unused(self) -> list[Exchange]:
        """Exchanges no call was answered with."""
        return [exchange for exchange in self.exchanges if id(exchange) not in self.used]


def _call_of(request: requests.PreparedRequest) -> Call:
    parts = urlsplit(request.url or "")
    body: Any = None
    if request.body:
        raw = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
    return Call(
        method=str(request.method).upper(),
        url=request.url or "",
        path=parts.path,
        params=dict(parse_qsl(parts.query, keep_blank_values=True)),
        json=body,
        headers={str(key): str(value) for key, value in request.headers.items()},
    )


def _subset(expected: Any, actual: Any) -> bool:
    """Whether `expected` is found in `actual`: dicts key by key (recursively), anything else by equality."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    return expected == actual


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
