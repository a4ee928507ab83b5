"""Tests for the SDK pagination helpers: cursor, offset/limit, Link header and next URL in the body."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from canalis.sdk.errors import ConfigError, ConnectorError
from canalis.sdk.http import HttpClient
from canalis.sdk.pagination import (
    dig,
    iter_records,
    paginate_cursor,
    paginate_link_header,
    paginate_next_url,
    paginate_offset,
)

BASE = "https://api.example.test"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> HttpClient:
    return HttpClient("acme", BASE, sleep=lambda seconds: None)


def query(**params: object) -> list:
    return [matchers.query_param_matcher(params)]


def test_cursor_in_query_params_follows_nested_token(rsps, client):
    url = f"{BASE}/crm/v3/objects/contacts"
    rsps.get(url, match=query(limit=2), json={"results": [1, 2], "paging": {"next": {"after": "a2"}}})
    rsps.get(url, match=query(limit=2, after="a2"), json={"results": [3, 4], "paging": {"next": {"after": "a4"}}})
    rsps.get(url, match=query(limit=2, after="a4"), json={"results": [5]})

    pages = paginate_cursor(client, "GET", "/crm/v3/objects/contacts", params={"limit": 2})

    assert list(iter_records(pages, "results")) == [1, 2, 3, 4, 5]


def test_cursor_in_json_body_for_search_posts(rsps, client):
    url = f"{BASE}/v2/customers/search"
    first = {"limit": 2, "query": {"filter": {}}}
    rsps.post(url, match=[matchers.json_params_matcher(first)], json={"customers": [1, 2], "cursor": "c1"})
    rsps.post(
        url,
        match=[matchers.json_params_matcher({**first, "cursor": "c1"})],
        json={"customers": [3], "cursor": ""},
    )

    pages = list(
        paginate_cursor(
            client,
            "POST",
            "/v2/customers/search",
            json=first,
            cursor_path="cursor",
            cursor_param="cursor",
            cursor_in="json",
        )
    )

    assert [page["customers"] for page in pages] == [[1, 2], [3]]
    assert first == {"limit": 2, "query": {"filter": {}}}  # the caller's body is not modified


@pytest.mark.parametrize("last_page", [{"items": [2]}, {"items": [2], "cursor": None}, {"items": [2], "cursor": ""}])
def test_cursor_stops_on_missing_null_or_empty_token(rsps, client, last_page):
    rsps.get(f"{BASE}/items", match=query(), json={"items": [1], "cursor": "n1"})
    rsps.get(f"{BASE}/items", match=query(cursor="n1"), json=last_page)

    pages = list(paginate_cursor(client, "GET", "/items", cursor_path="cursor", cursor_param="cursor"))

    assert len(pages) == 2


def test_cursor_repeated_token_raises(rsps, client):
    rsps.get(f"{BASE}/items", match=query(), json={"cursor": "same"})
    rsps.get(f"{BASE}/items", match=query(cursor="same"), json={"cursor": "same"})

    with pytest.raises(ConnectorError, match="same cursor"):
        list(paginate_cursor(client, "GET", "/items", cursor_path="cursor", cursor_param="cursor"))


def test_pages_are_fetched_lazily(rsps, client):
    rsps.get(f"{BASE}/items", json={"items": [1], "cursor": "n1"})

    pages = paginate_cursor(client, "GET", "/items", cursor_path="cursor", cursor_param="cursor")

    assert len(rsps.calls) == 0
    assert next(pages) == {"items": [1], "cursor": "n1"}
    assert len(rsps.calls) == 1


def test_max_pages_caps_any_helper(rsps, client):
    rsps.get(f"{BASE}/items", json={"items": [1], "cursor": "n1"})

    pages = list(paginate_cursor(client, "GET", "/items", cursor_path="cursor", cursor_param="cursor", max_pages=1))

    assert len(pages) == 1


def test_bad_cursor_location_is_a_config_error(client):
    with pytest.raises(ConfigError):
        list(paginate_cursor(client, "GET", "/items", cursor_in="header"))  # type: ignore[arg-type]


def test_offset_stops_on_short_page(rsps, client):
    for offset, records in [(0, [1, 2]), (2, [3, 4]), (4, [5])]:
        rsps.get(f"{BASE}/orders", match=query(status="open", offset=offset, limit=2), json={"data": records})

    pages = paginate_offset(client, "GET", "/orders", params={"status": "open"}, records_path="data", limit=2)

    assert list(iter_records(pages, "data")) == [1, 2, 3, 4, 5]


def test_offset_stops_on_empty_page_after_exact_multiple(rsps, client):
    for offset, records in [(0, [1, 2]), (2, [])]:
        rsps.get(f"{BASE}/orders", match=query(offset=offset, limit=2), json=records)

    pages = list(paginate_offset(client, "GET", "/orders", limit=2))

    assert pages == [[1, 2], []]


def test_offset_in_json_body(rsps, client):
    rsps.post(f"{BASE}/rpc", match=[matchers.json_params_matcher({"model": "p", "skip": 0, "take": 2})], json=[1, 2])
    rsps.post(f"{BASE}/rpc", match=[matchers.json_params_matcher({"model": "p", "skip": 2, "take": 2})], json=[3])

    pages = paginate_offset(
        client,
        "POST",
        "/rpc",
        json={"model": "p"},
        limit=2,
        offset_param="skip",
        limit_param="take",
        paging_in="json",
    )

    assert list(iter_records(pages)) == [1, 2, 3]


def test_offset_rejects_a_page_without_a_list(rsps, client):
    rsps.get(f"{BASE}/orders", json={"data": "oops"})

    with pytest.raises(ConnectorError, match="no list"):
        list(paginate_offset(client, "GET", "/orders", records_path="data"))


def test_link_header_absolute_and_relative(rsps, client):
    url = f"{BASE}/admin/api/2025-01/products.json"
    second, third = f"{url}?limit=2&page_info=p2", f"{url}?limit=2&page_info=p3"
    rsps.get(url, match=query(limit=2), json={"products": [1, 2]}, headers={"Link": f'<{second}>; rel="next"'})
    rsps.get(
        second,
        json={"products": [3, 4]},
        headers={"Link": f'<{url}?page_info=p1>; rel="previous", <products.json?{third.split("?")[1]}>; rel="next"'},
    )
    rsps.get(third, json={"products": [5]}, headers={"Link": f'<{second}>; rel="previous"'})

    pages = paginate_link_header(client, "GET", "/admin/api/2025-01/products.json", params={"limit": 2})

    assert list(iter_records(pages, "products")) == [1, 2, 3, 4, 5]
    assert [call.request.url for call in rsps.calls] == [f"{url}?limit=2", second, third]


def test_next_url_in_body_relative_to_the_page(rsps):
    client = HttpClient("acme", f"{BASE}/services/data/v60.0", sleep=lambda seconds: None)
    query_url = f"{BASE}/services/data/v60.0/query"
    rsps.get(
        query_url,
        match=query(q="SELECT Id FROM Account"),
        json={"done": False, "records": [1, 2], "nextRecordsUrl": "/services/data/v60.0/query/01g-2"},
    )
    rsps.get(f"{query_url}/01g-2", match=query(), json={"done": True, "records": [3]})

    pages = paginate_next_url(client, "GET", "/query", params={"q": "SELECT Id FROM Account"})

    assert list(iter_records(pages, "records")) == [1, 2, 3]


def test_next_url_in_body_absolute(rsps, client):
    next_link = f"{BASE}/crm/v3/objects/deals?after=d2&limit=2"
    rsps.get(
        f"{BASE}/crm/v3/objects/deals",
        match=query(limit=2),
        json={"results": [1, 2], "paging": {"next": {"after": "d2", "link": next_link}}},
    )
    rsps.get(next_link, json={"results": [3]})

    pages = paginate_next_url(client, "GET", "/crm/v3/objects/deals", params={"limit": 2}, next_path="paging.next.link")

    assert list(iter_records(pages, "results")) == [1, 2, 3]


def test_next_url_pointing_to_the_same_page_raises(rsps, client):
    rsps.get(f"{BASE}/items", json={"next": f"{BASE}/items"})

    with pytest.raises(ConnectorError, match="same page"):
        list(paginate_next_url(client, "GET", "/items", next_path="next"))


def test_dig():
    body = {"a": {"b": [{"c": 1}]}}
    assert dig(body, "a.b.0.c") == 1
    assert dig(body, "a.x.c") is None
    assert dig(body, "a.b.5") is None
    assert dig(body, None) is body
