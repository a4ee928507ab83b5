"""The Odoo connector against mocked HTTP: protocol choice, keyset paging, retries, errors, settings, redaction."""

from __future__ import annotations

import logging
import xmlrpc.client
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from responses import matchers

from canalis.connectors.odoo import OdooConnector
from canalis.connectors.odoo.paging import pages_by_write_date
from canalis.connectors.odoo.settings import OdooSettings
from canalis.connectors.odoo.streams import STREAMS
from canalis.sdk.errors import ApiError, ConfigError, ConnectorError
from canalis.sdk.settings import load_settings
from canalis.sdk.state import StreamState

URL = "https://erp.example.com"
KEY = "s3cr3t-api-key-0123456789"
PASSWORD = "pa55-w0rd-xyz"
PARTNER_TYPES = {
    "id": "integer", "name": "char", "email": "char", "is_company": "boolean", "parent_id": "many2one",
    "write_date": "datetime", "customer_rank": "integer",
}  # fmt: skip
PARTNER_FIELDS = ["name", "is_company", "parent_id", "email", "customer_rank", "write_date"]
BASE_DOMAIN = [["customer_rank", ">", 0], ["is_company", "=", False]]
ORDER = "write_date asc, id asc"


def connector(sleeps: list[float] | None = None, **values: Any) -> OdooConnector:
    values = {"protocol": "json2", "api_key": KEY, "page_size": 3, "lookback_seconds": 0, **values}
    settings = OdooSettings(url=URL, **values)
    waits = sleeps if sleeps is not None else []
    return OdooConnector(settings, connection="erp", sleep=waits.append)


def partner(record_id: int, write_date: str, **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "name": f"P{record_id}", "email": False, "is_company": False, "parent_id": False,
            "customer_rank": 1, "write_date": write_date, **extra}  # fmt: skip


def fields_get(mock: responses.RequestsMock, types: dict[str, str] = PARTNER_TYPES) -> None:
    mock.post(
        f"{URL}/json/2/res.partner/fields_get",
        json={name: {"type": kind} for name, kind in types.items()},
        match=[matchers.header_matcher({"Authorization": f"bearer {KEY}"})],
    )


def search_read(mock: responses.RequestsMock, domain: list[Any], order: str, rows: list[Any], **extra: Any) -> None:
    body = {"domain": domain, "fields": PARTNER_FIELDS, "limit": 3, "order": order, "context": {"active_test": False}}
    mock.post(f"{URL}/json/2/res.partner/search_read", json=rows, match=[matchers.json_params_matcher(body)], **extra)


def window(second: str, after_id: int) -> list[Any]:
    moment = datetime.strptime(second, "%Y-%m-%d %H:%M:%S")
    upper = (moment + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    return [*BASE_DOMAIN, ["write_date", ">=", second], ["write_date", "<", upper], ["id", ">", after_id]]


def read_all(odoo: OdooConnector, stream: str, state: StreamState | None = None) -> tuple[list[Any], StreamState]:
    records: list[Any] = []
    final = state or StreamState.empty()
    for page in odoo.read(stream, state):
        records += page.records
        final = page.state
    return records, final


def test_keyset_paging_reads_each_second_whole() -> None:
    """A full page is cut before its last second, which is then read by id: no row sharing it is skipped."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        fields_get(mock)
        first = [
            partner(5, "2026-01-01 10:00:00"),
            partner(3, "2026-01-01 10:00:01"),
            partner(4, "2026-01-01 10:00:01"),
        ]
        search_read(mock, BASE_DOMAIN, ORDER, first)
        same_second = [
            partner(3, "2026-01-01 10:00:01"),
            partner(4, "2026-01-01 10:00:01"),
            partner(9, "2026-01-01 10:00:01"),
        ]
        search_read(mock, window("2026-01-01 10:00:01", 0), "id asc", same_second)
        search_read(mock, window("2026-01-01 10:00:01", 9), "id asc", [])
        search_read(
            mock,
            [*BASE_DOMAIN, ["write_date", ">=", "2026-01-01 10:00:02"]],
            ORDER,
            [partner(2, "2026-01-01 10:00:07")],
        )
        records, state = read_all(connector(), "partners")
    assert [record["id"] for record in records] == [5, 3, 4, 9, 2]
    assert records[0]["email"] is None and records[0]["is_company"] is False  # Odoo's false: empty vs boolean
    assert state.cursor_datetime() == datetime(2026, 1, 1, 10, 0, 6, tzinfo=UTC)  # the newest second stays open


def test_incremental_read_starts_after_the_cursor_minus_lookback() -> None:
    state = StreamState(cursor="2026-01-01T10:00:07+00:00")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        fields_get(mock)
        search_read(mock, [*BASE_DOMAIN, ["write_date", ">=", "2026-01-01 10:00:08"]], ORDER, [])
        assert read_all(connector(), "partners", state) == ([], state)
        fields_get(mock)
        search_read(mock, [*BASE_DOMAIN, ["write_date", ">=", "2026-01-01 09:55:08"]], ORDER, [])
        assert read_all(connector(lookback_seconds=300), "partners", state) == ([], state)


def test_state_is_only_advanced_over_complete_seconds() -> None:
    """Pages handed out before a second is drained keep the earlier state, so a crash re-reads that second."""
    rows = {
        ORDER: [
            partner(1, "2026-01-01 10:00:00"),
            partner(2, "2026-01-01 10:00:05"),
            partner(3, "2026-01-01 10:00:05"),
        ],
        "id asc": [
            partner(2, "2026-01-01 10:00:05"),
            partner(3, "2026-01-01 10:00:05"),
            partner(4, "2026-01-01 10:00:05"),
        ],
    }
    calls: list[list[Any]] = []

    def fetch(domain: list[Any], limit: int, order: str) -> list[dict[str, Any]]:
        calls.append(domain)
        if order == "id asc" and domain[-1] == ("id", ">", 4):
            return []
        if order == ORDER and len(calls) > 1:
            return []
        return rows[order]

    pages = list(pages_by_write_date(fetch, [], 3, StreamState.empty(), timedelta(0)))
    cursors = [state.cursor for _, state in pages]
    assert [[row["id"] for row in page] for page, _ in pages] == [[1], [2, 3, 4], []]
    assert cursors == ["2026-01-01T10:00:00+00:00", "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:04+00:00"]


def test_throttling_and_server_errors_are_retried_with_the_told_wait() -> None:
    sleeps: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        fields_get(mock)
        url = f"{URL}/json/2/res.partner/search_read"
        mock.post(url, status=429, headers={"Retry-After": "2"}, json={"name": "werkzeug.exceptions.TooManyRequests"})
        mock.post(url, status=502, body="<html>Bad Gateway</html>")
        search_read(mock, BASE_DOMAIN, ORDER, [partner(1, "2026-01-01 10:00:00")])
        records, _ = read_all(connector(sleeps), "partners")
    assert [record["id"] for record in records] == [1]
    assert sleeps[0] == 2.0 and len(sleeps) == 2


def test_malformed_records_are_rejected_and_the_run_goes_on() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        fields_get(mock)
        broken = [partner(1, "2026-01-01 10:00:00", parent_id="#corrupt"), partner(2, "not a date"), {"name": "no id"}]
        search_read(mock, BASE_DOMAIN, ORDER, [*broken[:2], broken[2]])
        search_read(
            mock, window("2026-01-01 10:00:00", 0), "id asc", [partner(1, "2026-01-01 10:00:00", parent_id="#corrupt")]
        )
        search_read(
            mock,
            [*BASE_DOMAIN, ["write_date", ">=", "2026-01-01 10:00:01"]],
            ORDER,
            [partner(7, "2026-01-01 11:00:00")],
        )
        pages = list(connector().read("partners"))
    accepted = [record["id"] for page in pages for record in page.records]
    rejected = [item for page in pages for item in page.rejected]
    assert accepted == [7]
    assert {item.field for item in rejected} == {"parent_id", "write_date", "id"}


def test_unauthorised_key_names_the_setting() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        body = {
            "name": "werkzeug.exceptions.Unauthorized",
            "message": "Invalid apikey",
            "arguments": ["Invalid apikey", 401],
        }
        mock.post(f"{URL}/json/2/res.partner/fields_get", status=401, json=body)
        with pytest.raises(ConfigError) as error:
            connector().check()
    assert error.value.setting == "api_key" and KEY not in str(error.value)


def test_access_error_fails_the_check_with_odoos_message() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        body = {"name": "odoo.exceptions.AccessError", "message": "You are not allowed to access 'Contact' records."}
        mock.post(f"{URL}/json/2/res.partner/fields_get", status=403, json=body)
        result = connector().check()
    assert (
        not result.ok
        and "not allowed to access 'Contact'" in result.message
        and result.details["kind"] == "access_error"
    )


def xml_answer(value: Any) -> str:
    return xmlrpc.client.dumps((value,), methodresponse=True)


def test_auto_protocol_uses_xmlrpc_before_19_and_signs_in() -> None:
    settings = OdooSettings(url=URL, database="prod", login="bot", password=PASSWORD, page_size=3)
    odoo = OdooConnector(settings, connection="erp", sleep=lambda _: None)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        version = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""]}
        mock.post(f"{URL}/xmlrpc/2/common", body=xml_answer(version), content_type="text/xml")
        mock.post(f"{URL}/xmlrpc/2/common", body=xml_answer(7), content_type="text/xml")
        mock.post(f"{URL}/xmlrpc/2/object", body=xml_answer({"id": {"type": "integer"}}), content_type="text/xml")
        odoo._ready()
        assert odoo.client.wire == "xmlrpc" and odoo.client.uid() == 7
        assert odoo.client.field_types("res.partner") == {"id": "integer"}
        sent = xmlrpc.client.loads(mock.calls[2].request.body)[0]
    assert sent[:5] == ("prod", 7, PASSWORD, "res.partner", "fields_get")
    assert sent[6] == {"attributes": ["type"]}


def test_auto_protocol_picks_json2_on_19_with_an_api_key() -> None:
    settings = OdooSettings(url=URL, api_key=KEY)
    odoo = OdooConnector(settings, connection="erp")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(f"{URL}/xmlrpc/2/common", status=404, body="<html>Not Found</html>")
        mock.get(f"{URL}/web/version", json={"version_info": [20, 0, 0, "final", 0, ""], "version": "20.0"})
        assert odoo.client.wire == "json2"


def test_wrong_password_over_xmlrpc_names_the_setting() -> None:
    settings = OdooSettings(url=URL, protocol="xmlrpc", database="prod", login="bot", password=PASSWORD)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(f"{URL}/xmlrpc/2/common", body=xml_answer(False), content_type="text/xml")
        with pytest.raises(ConfigError) as error:
            OdooConnector(settings, connection="erp").check()
    assert error.value.setting == "password" and "login 'bot'" in str(error.value)


def test_faults_are_redacted() -> None:
    settings = OdooSettings(url=URL, protocol="xmlrpc", database="prod", login="bot", password=PASSWORD)
    odoo = OdooConnector(settings, connection="erp")
    odoo.client._uid = 2
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        fault = xmlrpc.client.dumps(xmlrpc.client.Fault(2, f"Bad value {PASSWORD} for field"))
        mock.post(f"{URL}/xmlrpc/2/object", body=fault, content_type="text/xml")
        with pytest.raises(ApiError) as error:
            odoo.client.execute("res.partner", "search", domain=[])
    assert PASSWORD not in str(error.value) and "***" in str(error.value)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"protocol": "xmlrpc", "login": "bot", "password": PASSWORD}, "database"),
        ({"protocol": "jsonrpc", "database": "prod", "password": PASSWORD}, "login"),
        ({"protocol": "json2", "password": PASSWORD}, "api_key"),
        ({"database": "prod", "login": "bot"}, "api_key"),
    ],
)
def test_missing_settings_fail_the_check_naming_them(values: dict[str, Any], setting: str) -> None:
    odoo = OdooConnector(OdooSettings(url=URL, **values), connection="erp")
    with pytest.raises(ConfigError) as error:
        odoo.check()
    assert error.value.setting == setting and f"'{setting}'" in str(error.value)


def test_settings_load_from_environment_and_keep_secrets_secret(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"CANALIS_ODOO_URL": URL, "CANALIS_ODOO_API_KEY": KEY}
    settings = load_settings(OdooSettings, {"protocol": "json2"}, connection="erp", environ=environ)
    assert isinstance(settings, OdooSettings) and settings.secret() == KEY
    odoo = OdooConnector(settings, connection="erp")
    assert KEY not in repr(settings) + repr(odoo) + repr(odoo.client) + str(settings.model_dump())
    with pytest.raises(ConfigError) as in_file:
        load_settings(OdooSettings, {"url": URL, "api_key": KEY}, connection="erp", environ={})
    assert in_file.value.setting == "api_key" and KEY not in str(in_file.value)
    with pytest.raises(ConfigError) as bad_url:
        load_settings(OdooSettings, {"url": "erp.example.com"}, connection="erp", environ={})
    assert bad_url.value.setting == "url"
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(f"{URL}/json/2/res.partner/fields_get", status=500, body=f"crash while checking {KEY}")
        mock.post(f"{URL}/json/2/res.partner/fields_get", status=500, body=f"crash while checking {KEY}")
        odoo = connector(max_attempts=2)
        result = odoo.check()
    assert not result.ok and KEY not in result.message and "***" in result.message
    assert KEY not in caplog.text


def test_writes_are_refused_unless_allowed() -> None:
    odoo = connector()
    assert not odoo.stream("consents").writable
    with pytest.raises(ConfigError) as error:
        list(odoo.write("consents", [{"key": "k", "email": "a@example.org", "status": "denied"}]))
    assert error.value.setting == "allow_writes"
    with pytest.raises(Exception, match="read-only"):
        list(connector(allow_writes=True).write("products", [{"key": "k"}]))
    assert connector(allow_writes=True).stream("consents").writable


def test_check_lists_streams_whose_module_is_not_installed() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        for stream in STREAMS:
            url = f"{URL}/json/2/{stream.model}/fields_get"
            if stream.model == "loyalty.program":
                body = {"name": "odoo.exceptions.UserError", "message": "Object loyalty.program doesn't exist"}
                mock.post(url, status=404, json=body)
            else:
                mock.post(url, json={"id": {"type": "integer"}, "write_date": {"type": "datetime"}})
        mock.post(f"{URL}/json/2/stock.location/fields_get", json={"complete_name": {"type": "char"}})
        locations = {"domain": [["usage", "=", "internal"]], "fields": ["complete_name"], "order": "id asc"}
        mock.post(
            f"{URL}/json/2/stock.location/search_read",
            json=[{"id": 8, "complete_name": "WH/Stock"}],
            match=[matchers.json_params_matcher(locations)],
        )
        mock.get(f"{URL}/web/version", json={"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"})
        result = connector().check()
    assert result.ok and result.details["unavailable"] == {"loyalty_programs": "model loyalty.program is not installed"}
    assert result.details["locations"] == [8] and "loyalty_programs" in result.message


def test_a_page_without_readable_write_dates_stops_the_read() -> None:
    def fetch(domain: list[Any], limit: int, order: str) -> list[dict[str, Any]]:
        return [{"id": n, "write_date": None} for n in range(limit)]

    with pytest.raises(ConnectorError, match="write_date"):
        list(pages_by_write_date(fetch, [], 3, StreamState.empty(), timedelta(0)))
