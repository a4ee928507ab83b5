"""The SDK's building blocks: HttpSettings inherited with a connector's own defaults, HttpConnector's wiring and
check, and the declarative streams (REST with each paging scheme, GraphQL, SQL) read, resumed and filtered by the
SDK from their declaration alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import sqlalchemy as sa
from pydantic import SecretStr

from canalis.sdk import (
    ConfigError,
    CursorPagination,
    GraphQLStream,
    HttpConnector,
    HttpSettings,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PageNumberPagination,
    ParentPartitions,
    RestStream,
    SqlConnector,
    SqlSettings,
    SqlStream,
    StreamState,
    describe_settings,
    load_settings,
    setting,
)

BASE = "https://api.acme.test/v1"
RECORDS = [{"id": n, "updated_at": f"2024-01-{n:02d}T10:00:00Z", "email": f"p{n}@example.org"} for n in range(1, 8)]


class AcmeSettings(HttpSettings):
    env_prefix = "CANALIS_ACME"
    setting_defaults = {"base_url": BASE, "requests_per_second": 0}
    token: SecretStr = setting(description="API token", env="CANALIS_ACME_TOKEN", secret=True)
    list_id: str = setting("L1", description="audience")


class Contacts(RestStream):
    name = "contacts"
    path = "/lists/{list_id}/contacts"
    records_path = "results"
    primary_key = "id"
    cursor_field = "updated_at"
    cursor_param = "updated_after"
    cursor_format = "iso_z"
    paginator = OffsetPagination(limit=3, total_path="total")


class AcmeConnector(HttpConnector):
    name = "acme"
    kind = "crm"
    settings_model = AcmeSettings
    streams = (Contacts,)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}


def connector(streams: tuple[type, ...] = (Contacts,), **settings: Any) -> AcmeConnector:
    cls = type("Acme", (AcmeConnector,), {"streams": streams})
    return cls(AcmeSettings(token="s3cret-token", **settings))


def query(request: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


def offset_server(mock: responses.RequestsMock, path: str = "/lists/L1/contacts") -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = query(request)
        start, size = int(params["offset"]), int(params["limit"])
        return 200, {}, json.dumps({"results": RECORDS[start : start + size], "total": len(RECORDS)})

    mock.add_callback("GET", BASE + path, callback=answer)


def ids(pages: list[Any]) -> list[int]:
    return [record["id"] for page in pages for record in page.records]


# --- settings -------------------------------------------------------------------------------------------


def test_http_settings_are_inherited_with_the_connectors_defaults_and_environment_names() -> None:
    rows = {row.name: row for row in describe_settings(AcmeSettings)}
    assert rows["base_url"].default == BASE and rows["base_url"].env == "CANALIS_ACME_BASE_URL"
    assert rows["requests_per_second"].default == "0" and rows["max_attempts"].default == "6"
    assert rows["timeout_seconds"].env == "CANALIS_ACME_TIMEOUT_SECONDS"
    assert {row.name: row.required for row in describe_settings(HttpSettings)}["base_url"] is True
    settings = load_settings(
        AcmeSettings, {}, connection="acme", environ={"CANALIS_ACME_TOKEN": "t", "CANALIS_ACME_MAX_ATTEMPTS": "2"}
    )
    assert settings.max_attempts == 2 and settings.base_url == BASE


def test_a_wrong_inherited_setting_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"base_url: must be an http"):
        load_settings(AcmeSettings, {"base_url": "ftp://x"}, connection="acme", environ={"CANALIS_ACME_TOKEN": "t"})
    with pytest.raises(TypeError, match="setting_defaults names no setting: base_urll"):
        type("Broken", (HttpSettings,), {"setting_defaults": {"base_urll": "https://x"}})


# --- REST ------------------------------------------------------------------------------------------------


def test_an_offset_paged_stream_reads_to_the_end_and_resumes_at_the_page_not_stored() -> None:
    with responses.RequestsMock() as mock:
        offset_server(mock)
        pages = list(connector().read("contacts"))
        assert [len(page.records) for page in pages] == [3, 3, 1]
        assert ids(pages) == [1, 2, 3, 4, 5, 6, 7]
        assert pages[-1].state.cursor == "2024-01-07T10:00:00+00:00" and pages[-1].state.extra == {}
        resumed = list(connector().read("contacts", pages[0].state))
        assert ids(resumed) == [4, 5, 6, 7]
        assert [query(call.request)["offset"] for call in mock.calls[-2:]] == ["3", "6"]


def test_an_incremental_read_sends_the_bound_and_keeps_only_records_from_it() -> None:
    state = StreamState(cursor="2024-01-05T10:00:00+00:00")
    with responses.RequestsMock() as mock:
        offset_server(mock)  # a server that ignores the bound: the SDK still hands back only newer records
        pages = list(connector().read("contacts", state))
        assert ids(pages) == [5, 6, 7]
        assert query(mock.calls[0].request)["updated_after"] == "2024-01-05T10:00:00Z"
        future = StreamState(cursor="2099-01-01T00:00:00+00:00")
        assert ids(list(connector().read("contacts", future))) == []
        assert list(connector().read("contacts", future))[-1].state.cursor == future.cursor


def test_the_look_back_setting_moves_the_bound_back() -> None:
    class Settings(AcmeSettings):
        lookback_minutes: int = setting(60 * 24, description="look-back")

    cls = type("Acme", (AcmeConnector,), {"settings_model": Settings})
    with responses.RequestsMock() as mock:
        offset_server(mock)
        pages = list(cls(Settings(token="t")).read("contacts", StreamState(cursor="2024-01-05T10:00:00+00:00")))
    assert ids(pages) == [4, 5, 6, 7]


def test_an_unsorted_stream_moves_its_cursor_once_and_not_past_the_reads_start() -> None:
    late = [{"id": 1, "updated_at": "2099-01-01T00:00:00Z"}, {"id": 2, "updated_at": "2024-01-01T00:00:00Z"}]

    class Everything(RestStream):
        name = "everything"
        path = "/everything"
        primary_key = "id"
        cursor_field = "updated_at"

    with responses.RequestsMock() as mock:
        mock.add("GET", BASE + "/everything", json=late)
        acme = connector((Everything,))
        acme.now = lambda: datetime(2025, 6, 1, tzinfo=UTC)  # type: ignore[method-assign]
        (page,) = list(acme.read("everything"))
    assert page.state.cursor == "2025-06-01T00:00:00+00:00"


def test_page_number_cursor_next_url_and_link_header_paging() -> None:
    class ByPage(RestStream):
        name = "by_page"
        path = "/by_page"
        primary_key = "id"
        paginator = PageNumberPagination(size=3, total_pages_header="X-Total-Pages")

    class ByCursor(RestStream):
        name = "by_cursor"
        path = "/by_cursor"
        records_path = "data"
        primary_key = "id"
        paginator = CursorPagination(cursor_path="meta.next", cursor_param="after", limit=3)

    class ByNextUrl(RestStream):
        name = "by_next_url"
        path = "/by_next_url"
        records_path = "data"
        primary_key = "id"
        paginator = NextUrlPagination(next_path="links.next")

    class ByLink(RestStream):
        name = "by_link"
        path = "/by_link"
        primary_key = "id"
        paginator = LinkHeaderPagination()

    def by_page(request: Any) -> tuple[int, dict[str, str], str]:
        page = int(query(request)["page"])
        return 200, {"X-Total-Pages": "3"}, json.dumps(RECORDS[(page - 1) * 3 : page * 3])

    def by_cursor(request: Any) -> tuple[int, dict[str, str], str]:
        start = int(query(request).get("after", 0))
        following = str(start + 3) if start + 3 < len(RECORDS) else None
        return 200, {}, json.dumps({"data": RECORDS[start : start + 3], "meta": {"next": following}})

    def by_next_url(request: Any) -> tuple[int, dict[str, str], str]:
        start = int(query(request).get("from", 0))
        following = f"/v1/by_next_url?from={start + 3}" if start + 3 < len(RECORDS) else None
        return 200, {}, json.dumps({"data": RECORDS[start : start + 3], "links": {"next": following}})

    def by_link(request: Any) -> tuple[int, dict[str, str], str]:
        start = int(query(request).get("from", 0))
        headers = {"Link": f'<{BASE}/by_link?from={start + 3}>; rel="next"'} if start + 3 < len(RECORDS) else {}
        return 200, headers, json.dumps(RECORDS[start : start + 3])

    acme = connector((ByPage, ByCursor, ByNextUrl, ByLink))
    with responses.RequestsMock() as mock:
        for path, answer in (("by_page", by_page), ("by_cursor", by_cursor)):
            mock.add_callback("GET", f"{BASE}/{path}", callback=answer)
        for path, answer in (("by_next_url", by_next_url), ("by_link", by_link)):
            mock.add_callback("GET", f"{BASE}/{path}", callback=answer)
        for stream in ("by_page", "by_cursor", "by_next_url", "by_link"):
            pages = list(acme.read(stream))
            assert ids(pages) == [1, 2, 3, 4, 5, 6, 7], stream
            assert ids(list(acme.read(stream, pages[1].state))) == [7], stream


def test_a_child_stream_reads_once_per_parent_record_and_resumes_in_the_right_partition() -> None:
    class Campaigns(RestStream):
        name = "campaigns"
        path = "/campaigns"
        primary_key = "id"

    class Activity(RestStream):
        name = "activity"
        path = "/campaigns/{campaign_id}/activity"
        primary_key = "key"
        partitions = ParentPartitions(stream="campaigns", field="id", name="campaign_id")

        @classmethod
        def prepare(cls, connector: Any, records: list[Any], partition: dict[str, Any]) -> list[Any]:
            return [{**record, "key": f"{partition['campaign_id']}:{record['n']}"} for record in records]

    acme = connector((Campaigns, Activity))
    with responses.RequestsMock() as mock:
        mock.add("GET", BASE + "/campaigns", json=[{"id": "c1"}, {"id": "c2"}, {"id": "c1"}])
        mock.add("GET", BASE + "/campaigns/c1/activity", json=[{"n": 1}, {"n": 2}])
        mock.add("GET", BASE + "/campaigns/c2/activity", json=[{"n": 1}])
        pages = list(acme.read("activity"))
        assert [record["key"] for page in pages for record in page.records] == ["c1:1", "c1:2", "c2:1"]
        assert pages[0].state.extra["read"]["partition"] == {"campaign_id": "c2"}
        resumed = list(acme.read("activity", pages[0].state))
    assert [record["key"] for page in resumed for record in page.records] == ["c2:1"]


# --- HttpConnector ---------------------------------------------------------------------------------------


def test_check_names_the_credential_or_the_url_when_refused_and_never_shows_the_secret() -> None:
    with responses.RequestsMock() as mock:
        mock.add("GET", BASE + "/lists/L1/contacts", json={"message": "bad token s3cret-token"}, status=401)
        with pytest.raises(ConfigError) as refused:
            connector().check()
        mock.replace("GET", BASE + "/lists/L1/contacts", json={"message": "nothing here"}, status=404)
        with pytest.raises(ConfigError) as missing:
            connector().check()
    assert refused.value.setting == "token" and "CANALIS_ACME_TOKEN" in str(refused.value)
    assert "s3cret-token" not in str(refused.value)
    assert missing.value.setting == "base_url" and "CANALIS_ACME_BASE_URL" in str(missing.value)


def test_the_client_is_built_on_first_use_and_retries_a_429_honouring_retry_after() -> None:
    waits: list[float] = []
    acme = AcmeConnector(AcmeSettings(token="t"), sleep=waits.append)
    assert acme._http is None
    with responses.RequestsMock() as mock:
        mock.add("GET", BASE + "/lists/L1/contacts", status=429, headers={"Retry-After": "7"}, json={})
        offset_server(mock)
        assert ids(list(acme.read("contacts"))) == [1, 2, 3, 4, 5, 6, 7]
    assert waits == [7.0]
    acme.close()
    assert acme._http is None


# --- GraphQL ---------------------------------------------------------------------------------------------


def test_a_graphql_connection_is_paged_by_end_cursor_and_filtered_from_the_bound() -> None:
    class Customers(GraphQLStream):
        name = "customers"
        primary_key = "id"
        cursor_field = "updated_at"
        endpoint = "/graphql"
        connection_path = "data.customers"
        page_size = 3
        filter_variable = "query"
        filter_template = "updated_at:>='{since}'"
        query = "query($first: Int!, $after: String, $query: String) { customers { nodes { id } } }"

    seen: list[dict[str, Any]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        variables = json.loads(request.body)["variables"]
        seen.append(variables)
        start = int(variables["after"] or 0)
        edges = [{"node": record} for record in RECORDS[start : start + variables["first"]]]
        info = {"hasNextPage": start + 3 < len(RECORDS), "endCursor": str(start + 3)}
        return 200, {}, json.dumps({"data": {"customers": {"edges": edges, "pageInfo": info}}})

    acme = connector((Customers,))
    with responses.RequestsMock() as mock:
        mock.add_callback("POST", BASE + "/graphql", callback=answer)
        pages = list(acme.read("customers"))
        assert ids(pages) == [1, 2, 3, 4, 5, 6, 7] and "query" not in seen[0]
        again = list(acme.read("customers", StreamState(cursor="2024-01-06T10:00:00+00:00")))
        assert ids(again) == [6, 7] and seen[-1]["query"] == "updated_at:>='2024-01-06T10:00:00Z'"
        mock.replace("POST", BASE + "/graphql", json={"errors": [{"message": "Field 'x' doesn't exist"}]})
        with pytest.raises(Exception, match=r"graphql customers failed with HTTP 200: Field 'x' doesn't exist"):
            list(acme.read("customers"))


# --- SQL -------------------------------------------------------------------------------------------------


def test_a_sql_table_is_read_in_keyset_pages_resumed_and_read_incrementally(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    table = sa.Table(
        "clients",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String),
        sa.Column("updated_at", sa.DateTime),
        sa.Column("balance", sa.Numeric(10, 2)),
    )
    table.metadata.create_all(engine)
    same_moment = datetime(2024, 1, 2, 10, 0)
    rows = [{"id": n, "email": f"c{n}@example.org", "updated_at": same_moment, "balance": n} for n in (3, 1, 2)]
    rows += [{"id": n, "email": f"c{n}@example.org", "updated_at": datetime(2024, 1, n), "balance": n} for n in (4, 5)]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()

    class Settings(SqlSettings):
        env_prefix = "CANALIS_ERP"

    class Clients(SqlStream):
        name = "clients"
        table = "clients"
        primary_key = "id"
        cursor_field = "updated_at"

    class Erp(SqlConnector):
        name = "erp"
        kind = "erp"
        settings_model = Settings
        streams = (Clients,)

    with Erp(Settings(url=url, page_size=2)) as erp:
        pages = list(erp.read("clients"))
        assert ids(pages) == [1, 2, 3, 4, 5]  # (updated_at, id) order, the three rows at one moment split over pages
        assert pages[0].records[0]["balance"] == "1.00" and pages[0].records[0]["updated_at"].endswith("+00:00")
        assert ids(list(erp.read("clients", pages[0].state))) == [3, 4, 5]
        assert ids(list(erp.read("clients", pages[-1].state))) == [5]
        assert erp.check().ok
    with pytest.raises(ConfigError, match="setting 'url' \\(CANALIS_ERP_URL\\) does not reach the database"):
        Erp(Settings(url=f"sqlite:///{tmp_path}/missing/dir/x.db")).check()
