"""Pagination helpers: generators yielding one parsed JSON page at a time, never holding a whole stream.

Each helper takes the HttpClient and the first request (method, path, params, json) and follows the
API's paging scheme until it says there is nothing more. `iter_records` flattens pages into records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urljoin

from canalis.sdk.errors import ConfigError, ConnectorError
from canalis.sdk.http import HttpClient, call_name

Location = Literal["params", "json"]


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted path ("paging.next.after", "data.0.id") in parsed JSON; None when absent."""
    if not path:
        return body
    value = body
    for key in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def iter_records(pages: Iterable[Any], records_path: str | None = None) -> Iterator[Any]:
    """Flatten pages into records: the list at records_path in each page (the page itself when None)."""
    for page in pages:
        records = dig(page, records_path)
        if records is None:
            continue
        if not isinstance(records, list):
            raise ConnectorError(f"expected a list at '{records_path}' in the page, got {type(records).__name__}")
        yield from records


def paginate_cursor(
    client: HttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Mapping[str, Any] | None = None,
    cursor_path: str = "paging.next.after",
    cursor_param: str = "after",
    cursor_in: Location = "params",
    call: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Any]:
    """Follow an after-token found at cursor_path, sent back as cursor_param in the query or JSON body.

    Stops when the token is missing, null or empty; raises ConnectorError if the API repeats a token.
    """
    _check_location(cursor_in, "cursor_in")
    call = call or call_name(method, path)
    page_params, page_json = dict(params or {}), dict(json) if json is not None else None
    previous: Any = None
    pages = 0
    while True:
        page = client.request_json(method, path, params=page_params or None, json=page_json, call=call)
        pages += 1
        cursor = dig(page, cursor_path)
        yield page
        if cursor is None or cursor == "" or _reached(max_pages, pages):
            return
        if cursor == previous:
            raise ConnectorError(f"{client.system}: {call} returned the same cursor twice; stopping pagination")
        previous = cursor
        if cursor_in == "json":
            page_json = {**(page_json or {}), cursor_param: cursor}
        else:
            page_params = {**page_params, cursor_param: cursor}


def paginate_offset(
    client: HttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Mapping[str, Any] | None = None,
    records_path: str | None = None,
    limit: int = 100,
    offset_param: str = "offset",
    limit_param: str = "limit",
    start: int = 0,
    paging_in: Location = "params",
    call: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Any]:
    """Page with offset/limit; the offset grows by the records received and a short page ends the stream.

    The records of a page are the list at records_path (the page itself when None).
    """
    _check_location(paging_in, "paging_in")
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}", setting="limit")
    call = call or call_name(method, path)
    offset, pages = start, 0
    while True:
        paging = {offset_param: offset, limit_param: limit}
        page_params = {**(params or {}), **paging} if paging_in == "params" else dict(params or {})
        page_json = {**(json or {}), **paging} if paging_in == "json" else json
        page = client.request_json(method, path, params=page_params or None, json=page_json, call=call)
        pages += 1
        received = _record_count(page, records_path, client.system, call)
        yield page
        if received < limit or _reached(max_pages, pages):
            return
        offset += received


def paginate_link_header(
    client: HttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    call: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Any]:
    """Follow the Link header's rel="next" URL (which carries its own query) until there is none."""
    call = call or call_name(method, path)
    url, page_params, pages = path, params, 0
    while True:
        response = client.request(method, url, params=page_params, json=json, call=call)
        pages += 1
        next_link = response.links.get("next", {}).get("url")
        yield client.decode_json(response, call=call)
        if not next_link or _reached(max_pages, pages):
            return
        url, page_params = _next_url(client, call, response.url, next_link), None


def paginate_next_url(
    client: HttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    next_path: str = "nextRecordsUrl",
    call: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Any]:
    """Follow a next-page URL found at next_path in the body, relative to the page's URL or absolute."""
    call = call or call_name(method, path)
    url, page_params, pages = path, params, 0
    while True:
        response = client.request(method, url, params=page_params, json=json, call=call)
        pages += 1
        page = client.decode_json(response, call=call)
        next_link = dig(page, next_path)
        yield page
        if not next_link or _reached(max_pages, pages):
            return
        url, page_params = _next_url(client, call, response.url, str(next_link)), None


def _next_url(client: HttpClient, call: str, current_url: str, link: str) -> str:
    """Resolve a next link against the current page's URL; refuse a link back to the same page."""
    next_url = urljoin(current_url, link)
    if next_url == current_url:
        raise ConnectorError(f"{client.system}: {call} pointed to the same page again; stopping pagination")
    return next_url


def _record_count(page: Any, records_path: str | None, system: str, call: str) -> int:
    """How many records a page holds; a missing list counts as zero."""
    records = dig(page, records_path)
    if records is None:
        return 0
    if not isinstance(records, list):
        where = f"'{records_path}'" if records_path else "the page"
        raise ConnectorError(f"{system}: {call} returned no list at {where}")
    return len(records)


def _reached(max_pages: int | None, pages: int) -> bool:
    """Whether the optional page cap is reached."""
    return max_pages is not None and pages >= max_pages


def _check_location(value: str, setting: str) -> None:
    """Raise ConfigError unless the paging value goes in the query params or the JSON body."""
    if value not in ("params", "json"):
        raise ConfigError(f"{setting} must be 'params' or 'json', got {value!r}", setting=setting)
