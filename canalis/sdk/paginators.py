"""Declared paging schemes: how a stream asks for its first page and for the page after an answer.

A paginator is declared on a stream (`paginator = OffsetPagination(limit=1000, limit_param="count")`) and
driven by the stream's reader. Its position (which page to ask for next) is plain JSON, so a read that stops
halfway stores it in the stream state and the next read asks for exactly the page that was not stored yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal
from urllib.parse import urljoin

import requests

from canalis.sdk.errors import ConnectorError
from canalis.sdk.pagination import dig

Location = Literal["params", "json"]
Position = dict[str, Any]
SIZE_FIELDS = ("limit", "size")


@dataclass(frozen=True)
class PageRequest:
    """One call: method, path under the base URL (or an absolute next-page URL), query and JSON body."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None

    def with_values(self, location: Location, values: dict[str, Any]) -> PageRequest:
        """The request with values added to its query or its JSON body."""
        if location == "json":
            return replace(self, json={**(self.json or {}), **values})
        return replace(self, params={**self.params, **values})


class Paginator:
    """No paging: the first answer holds every record."""

    page_size: int | None = None

    def resolved(self, values: Mapping[str, object]) -> Paginator:
        """The paginator with sizes given as `{setting}` templates (`limit="{page_size}"`) filled from `values`."""
        if not is_dataclass(self):
            return self
        changes = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SIZE_FIELDS and isinstance(value, str):
                try:
                    changes[item.name] = int(value.format_map(values))
                except (KeyError, ValueError):
                    reason = "not a number or a numeric setting"
                    raise ConnectorError(f"paginator {item.name} {value!r}: {reason}") from None
        return replace(self, **changes) if changes else self

    def first(self) -> Position:
        """The position of the first page."""
        return {}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        """The request for the page at `position`."""
        return request

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        """The position of the page after this answer, or None when it was the last."""
        return None


NoPagination = Paginator


@dataclass(frozen=True)
class OffsetPagination(Paginator):
    """`offset`/`limit` paging: the offset grows by the records received; a short page or `total_path` ends it."""

    limit: int | str = 100
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str | None = None
    location: Location = "params"

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return self.limit

    def first(self) -> Position:
        return {"offset": 0}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        values = {self.offset_param: int(position.get("offset", 0)), self.limit_param: self.limit}
        return request.with_values(self.location, values)

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        offset = int(position.get("offset", 0)) + len(records)
        if len(records) < self.limit:
            return None
        total = dig(body, self.total_path) if self.total_path else None
        if isinstance(total, int) and offset >= total:
            return None
        return {"offset": offset}


@dataclass(frozen=True)
class PageNumberPagination(Paginator):
    """`page`/`per_page` paging from `start`; a short page, or the page count in the body or a header, ends it."""

    size: int | str = 100
    page_param: str = "page"
    size_param: str | None = "per_page"
    start: int = 1
    total_pages_path: str | None = None
    total_pages_header: str | None = None
    location: Location = "params"

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return self.size

    def first(self) -> Position:
        return {"page": self.start}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        values: dict[str, Any] = {self.page_param: int(position.get("page", self.start))}
        if self.size_param:
            values[self.size_param] = self.size
        return request.with_values(self.location, values)

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        page = int(position.get("page", self.start))
        if len(records) < self.size:
            return None
        pages: Any = dig(body, self.total_pages_path) if self.total_pages_path else None
        if pages is None and self.total_pages_header:
            pages = response.headers.get(self.total_pages_header)
        if pages is not None and str(pages).isdigit() and page - self.start + 1 >= int(pages):
            return None
        return {"page": page + 1}


@dataclass(frozen=True)
class CursorPagination(Paginator):
    """An opaque token at `cursor_path` in each answer, sent back as `cursor_param`; no token ends the stream.

    `has_more_path` names a flag that must be true for another page to be asked for, when the API has one.
    """

    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"
    limit: int | str | None = None
    limit_param: str = "limit"
    has_more_path: str | None = None
    location: Location = "params"

    @property
    def page_size(self) -> int | None:  # type: ignore[override]
        return self.limit

    def first(self) -> Position:
        return {"cursor": None}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        values: dict[str, Any] = {}
        if position.get("cursor"):
            values[self.cursor_param] = position["cursor"]
        if self.limit is not None:
            values[self.limit_param] = self.limit
        return request.with_values(self.location, values) if values else request

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        token = dig(body, self.cursor_path)
        if token in (None, "") or (self.has_more_path and not dig(body, self.has_more_path)):
            return None
        if token == position.get("cursor"):
            raise ConnectorError(f"{response.request.method} {response.url}: the API returned the same cursor again")
        return {"cursor": token}


@dataclass(frozen=True)
class NextUrlPagination(Paginator):
    """A next-page URL at `next_path` in the body (relative to the page's URL, or absolute)."""

    next_path: str = "next"

    def first(self) -> Position:
        return {"url": None}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        url = position.get("url")
        return PageRequest(request.method, url, {}, request.json) if url else request

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        return _next_url(response, dig(body, self.next_path))


@dataclass(frozen=True)
class LinkHeaderPagination(Paginator):
    """The `Link` header's rel="next" URL (which carries its own query)."""

    def first(self) -> Position:
        return {"url": None}

    def apply(self, request: PageRequest, position: Position) -> PageRequest:
        url = position.get("url")
        return PageRequest(request.method, url, {}, request.json) if url else request

    def next(self, response: requests.Response, body: Any, records: list[Any], position: Position) -> Position | None:
        return _next_url(response, response.links.get("next", {}).get("url"))


def _next_url(response: requests.Response, link: Any) -> Position | None:
    """The position of a next-page link, None without one; a link back to the same page is an error."""
    if not link:
        return None
    url = urljoin(response.url, str(link))
    if url == response.url:
        raise ConnectorError(f"{response.request.method} {response.url}: the next-page link points to the same page")
    return {"url": url}


PAGINATORS: dict[str, type[Paginator]] = {
    "none": Paginator,
    "offset": OffsetPagination,
    "page_number": PageNumberPagination,
    "cursor": CursorPagination,
    "next_url": NextUrlPagination,
    "link_header": LinkHeaderPagination,
}
"""Paginators by the name a declarative (YAML) connector gives them."""
