"""The Salesforce connector against recorded-style answers (responses): settings, logins, paging, errors, writes."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from canalis.connectors.salesforce import CONNECTOR, SalesforceConnector
from canalis.connectors.salesforce.connector import soql_datetime
from canalis.connectors.salesforce.settings import SalesforceSettings
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.settings import describe_settings, load_settings
from canalis.sdk.state import StreamState

INSTANCE = "https://canalis.my.salesforce.com"
LOGIN = "https://login.salesforce.com"
DATA = f"{INSTANCE}/services/data/v60.0"
TOKEN = "00DXX0000000001!AQ4AQFakeAccessTokenValue"
PASSWORD = "Pa55-word-Secret"
SECURITY_TOKEN = "SecTok3nValue"
ENV = {
    "CANALIS_SALESFORCE_ACCESS_TOKEN": TOKEN,
    "CANALIS_SALESFORCE_PASSWORD": PASSWORD,
    "CANALIS_SALESFORCE_SECURITY_TOKEN": SECURITY_TOKEN,
}
CONTACT_FIELDS = [
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "HasOptedOutOfEmail",
    "Canalis_Customer_Id__c",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
]


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(values: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> SalesforceSettings:
    base = {"instance_url": INSTANCE, "bulk_enabled": False}
    loaded = load_settings(
        SalesforceSettings, {**base, **(values or {})}, connection="sf", environ=ENV if environ is None else environ
    )
    assert isinstance(loaded, SalesforceSettings)
    return loaded


def connector(
    values: dict[str, Any] | None = None, environ: dict[str, str] | None = None, clock: FakeClock | None = None
) -> SalesforceConnector:
    clock = clock or FakeClock()
    return SalesforceConnector(settings(values, environ), connection="sf", sleep=clock.sleep, clock=clock.time)


def soql_of(request: Any) -> str:
    return parse_qs(urlsplit(request.url).query)["q"][0]


def describe_body(sobject: str, names: list[str]) -> dict[str, Any]:
    types = {
        "Id": "id",
        "HasOptedOutOfEmail": "boolean",
        "IsDeleted": "boolean",
        "UnitPrice": "currency",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
        "IsActive": "boolean",
    }
    return {"name": sobject, "fields": [{"name": n, "type": types.get(n, "string")} for n in names]}


def contact(n: int, stamp: str, **extra: Any) -> dict[str, Any]:
    record_id = f"0035g00000Abc{n:02d}AAA"
    return {
        "attributes": {"type": "Contact", "url": f"/services/data/v60.0/sobjects/Contact/{record_id}"},
        "Id": record_id,
        "LastName": f"Name{n}",
        "SystemModstamp": stamp,
        **extra,
    }


def page(records: list[dict[str, Any]], *, total: int, next_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"totalSize": total, "done": next_url is None, "records": records}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


# -- settings ------------------------------------------------------------------------------------------


def test_registry_and_settings_table() -> None:
    assert CONNECTOR is SalesforceConnector and SalesforceConnector.kind == "crm"
    rows = {row.name: row for row in describe_settings(SalesforceSettings)}
    for name in ("password", "security_token", "client_secret", "access_token"):
        assert rows[name].secret, name
    assert all(row.env and row.env.startswith("CANALIS_SALESFORCE_") for row in rows.values())
    assert not rows["username"].secret and rows["api_version"].default == "60.0"


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"api_version": "sixty"}, "api_version"),
        ({"page_size": 50}, "page_size"),
        ({"instance_url": "canalis.my.salesforce.com"}, "instance_url"),
        ({"domain": "bad domain!"}, "domain"),
        ({"password": "in-the-file"}, "password"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_wrong_settings_name_the_setting(values: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as failure:
        settings(values)
    assert failure.value.setting == setting
    assert "in-the-file" not in str(failure.value)


@pytest.mark.parametrize(
    ("values", "environ", "setting"),
    [
        ({"instance_url": None}, {}, "username"),
        ({"instance_url": None}, {"CANALIS_SALESFORCE_ACCESS_TOKEN": TOKEN}, "instance_url"),
        ({"username": "u@example.com"}, {}, "password"),
        ({"client_id": "key"}, {}, "client_secret"),
        ({"client_id": "key"}, {"CANALIS_SALESFORCE_CLIENT_SECRET": "s"}, "domain"),
    ],
)
def test_incomplete_login_settings_fail_check(values: dict[str, Any], environ: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as failure:
        connector(values, environ).check()
    assert failure.value.setting == setting


def test_a_client_secret_without_client_id_keeps_the_soap_login() -> None:
    from canalis.connectors.salesforce.settings import auth_plan

    environ = {**ENV, "CANALIS_SALESFORCE_CLIENT_SECRET": "exported-for-every-connection"}
    environ.pop("CANALIS_SALESFORCE_ACCESS_TOKEN")
    loaded = settings({"instance_url": None, "username": "u@example.com"}, environ)
    assert auth_plan(loaded, "sf").flow == "soap_password"


@responses.activate
def test_check_refuses_an_api_version_the_org_does_not_serve() -> None:
    responses.get(f"{INSTANCE}/services/data", json=[{"version": "58.0", "url": "/services/data/v58.0"}])
    with pytest.raises(ConfigError) as failure:
        connector().check()
    assert failure.value.setting == "api_version" and "58.0" in str(failure.value)


# -- logins --------------------------------------------------------------------------------------------

SOAP_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
    "<serverUrl>https://canalis.my.salesforce.com/services/Soap/u/60.0/00DXX0000000001</serverUrl>"
    "<sessionId>{session}</sessionId></result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>'
    "<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>"
    "<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, "
    "password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
    "</soapenv:Body></soapenv:Envelope>"
)
SOAP_SETTINGS = {"instance_url": None, "username": "integration@canalis.example"}
SOAP_ENV = {"CANALIS_SALESFORCE_PASSWORD": PASSWORD, "CANALIS_SALESFORCE_SECURITY_TOKEN": SECURITY_TOKEN}


@responses.activate
def test_soap_login_refusal_is_not_retried_and_keeps_the_password_out() -> None:
    login = responses.post(f"{LOGIN}/services/Soap/u/60.0", body=SOAP_FAULT, status=500, content_type="text/xml")
    with pytest.raises(ConfigError) as failure:
        connector(SOAP_SETTINGS, SOAP_ENV).client.versions()
    assert failure.value.setting == "password" and "INVALID_LOGIN" in str(failure.value)
    assert login.call_count == 1  # repeated wrong logins lock the user out
    sent = responses.calls[0].request.body
    assert (PASSWORD + SECURITY_TOKEN).encode() in sent
    assert PASSWORD not in str(failure.value)


@responses.activate
def test_soap_login_then_new_login_when_the_session_expires() -> None:
    responses.post(f"{LOGIN}/services/Soap/u/60.0", body=SOAP_OK.format(session="SESSION-ONE"))
    responses.post(f"{LOGIN}/services/Soap/u/60.0", body=SOAP_OK.format(session="SESSION-TWO"))
    responses.get(
        f"{INSTANCE}/services/data",
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    responses.get(f"{INSTANCE}/services/data", json=[{"version": "60.0"}])
    assert connector(SOAP_SETTINGS, SOAP_ENV).client.versions() == [{"version": "60.0"}]
    auths = [c.request.headers.get("Authorization") for c in responses.calls if "/services/data" in c.request.url]
    assert auths == ["Bearer SESSION-ONE", "Bearer SESSION-TWO"]


@responses.activate
def test_oauth_login_refusal_names_the_setting() -> None:
    responses.post(
        f"{LOGIN}/services/oauth2/token",
        status=400,
        json={"error": "invalid_client", "error_description": "invalid client credentials"},
    )
    environ = {**SOAP_ENV, "CANALIS_SALESFORCE_CLIENT_SECRET": "app-secret-value"}
    with pytest.raises(ConfigError) as failure:
        connector({**SOAP_SETTINGS, "client_id": "key"}, environ).client.versions()
    assert failure.value.setting == "client_secret"
    form = parse_qs(responses.calls[0].request.body)
    assert form["grant_type"] == ["password"] and form["password"] == [PASSWORD + SECURITY_TOKEN]


@responses.activate
def test_expired_access_token_is_an_error_without_relogin() -> None:
    responses.get(
        f"{INSTANCE}/services/data",
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    with pytest.raises(ApiError) as failure:
        connector().client.versions()
    assert failure.value.status == 401 and "INVALID_SESSION_ID" in str(failure.value)
    assert TOKEN not in str(failure.value) and len(responses.calls) == 1


# -- reads -----------------------------------------------------------------------------------------------


def _describe(sobject: str = "Contact", names: list[str] | None = None) -> None:
    responses.get(f"{DATA}/sobjects/{sobject}/describe", json=describe_body(sobject, names or CONTACT_FIELDS))


@responses.activate(assert_all_requests_are_fired=True)
def test_rest_paging_and_a_cursor_that_never_skips_ties() -> None:
    _describe()
    next_url = "/services/data/v60.0/query/01gXX0000000001AAA-2"
    responses.get(
        f"{DATA}/queryAll",
        json=page(
            [
                contact(1, "2026-01-01T10:00:00.000+0000"),
                contact(2, "2026-01-01T11:00:00.000+0000"),
                contact(3, "2026-01-01T11:00:00.000+0000"),
            ],
            total=5,
            next_url=next_url,
        ),
    )
    responses.get(
        f"{INSTANCE}{next_url}",
        json=page([contact(4, "2026-01-01T11:00:00.000+0000"), contact(5, "2026-01-02T09:30:00.000+0000")], total=5),
    )
    pages = list(connector().read("contacts"))
    assert [len(p.records) for p in pages] == [3, 2]
    # the first page's newest stamp continues on the next page, so its cursor stays just below it
    assert pages[0].state.cursor == "2026-01-01T10:00:00+00:00"
    assert pages[1].state.cursor == "2026-01-02T09:30:00+00:00"
    soql = soql_of(responses.calls[1].request)
    assert soql.startswith("SELECT Id, FirstName, LastName, Email, Phone, MobilePhone, HasOptedOutOfEmail, ")
    assert soql.endswith("FROM Contact ORDER BY SystemModstamp ASC, Id ASC") and "WHERE" not in soql
    assert responses.calls[1].request.headers["Sforce-Query-Options"] == "batchSize=2000"
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate(assert_all_requests_are_fired=True)
def test_incremental_read_starts_a_lookback_before_the_cursor() -> None:
    _describe()
    responses.get(f"{DATA}/queryAll", json=page([], total=0))
    state = StreamState(cursor="2026-01-02T09:30:00+00:00")
    pages = list(connector({"lookback_seconds": 600}).read("contacts", state))
    assert pages[0].state.cursor == state.cursor
    assert "WHERE SystemModstamp > 2026-01-02T09:20:00.000Z ORDER BY" in soql_of(responses.calls[1].request)


def test_soql_datetime_keeps_milliseconds_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 1, 2, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert soql_datetime(moment) == "2026-01-02T09:30:00.123Z"


@responses.activate(assert_all_requests_are_fired=True)
def test_malformed_records_are_quarantined_and_the_run_goes_on() -> None:
    _describe()
    good = contact(1, "2026-01-01T10:00:00.000+0000")
    no_id = {**contact(2, "2026-01-01T10:00:00.000+0000"), "Id": None}
    bad_stamp = contact(3, "2026-13-45T99:99:99.000+0000")
    responses.get(f"{DATA}/queryAll", json=page([good, no_id, bad_stamp, "not a record"], total=4))
    [only] = list(connector().read("contacts"))
    assert [r["Id"] for r in only.records] == [good["Id"]]
    assert len(only.rejected) == 3
    assert {r.record_id for r in only.rejected} >= {bad_stamp["Id"]}
    assert only.state.cursor == "2026-01-01T10:00:00+00:00"


@responses.activate
def test_a_non_json_answer_is_an_api_error() -> None:
    _describe()
    responses.get(f"{DATA}/queryAll", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ApiError) as failure:
        list(connector().read("contacts"))
    assert "not JSON" in str(failure.value)


@responses.activate
def test_request_limit_exceeded_403_is_not_retried() -> None:
    responses.get(
        f"{DATA}/sobjects/Contact/describe",
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    with pytest.raises(ApiError) as failure:
        list(connector().read("contacts"))
    assert failure.value.status == 403 and "REQUEST_LIMIT_EXCEEDED" in str(failure.value)
    assert len(responses.calls) == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_429_waits_as_long_as_retry_after_says() -> None:
    clock = FakeClock()
    responses.get(
        f"{DATA}/sobjects/Contact/describe",
        status=429,
        headers={"Retry-After": "7"},
        json=[{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    _describe()
    responses.get(f"{DATA}/queryAll", json=page([contact(1, "2026-01-01T10:00:00.000+0000")], total=1))
    pages = list(connector(clock=clock).read("contacts"))
    assert len(pages[0].records) == 1
    assert 7.0 in clock.sleeps


@responses.activate(assert_all_requests_are_fired=True)
def test_5xx_then_success() -> None:
    _describe()
    responses.get(f"{DATA}/queryAll", status=503, json=[{"message": "busy", "errorCode": "SERVER_UNAVAILABLE"}])
    responses.get(f"{DATA}/queryAll", status=500, json=[{"message": "oops", "errorCode": "UNKNOWN_EXCEPTION"}])
    responses.get(f"{DATA}/queryAll", json=page([contact(1, "2026-01-01T10:00:00.000+0000")], total=1))
    pages = list(connector().read("contacts"))
    assert len(pages[0].records) == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_bulk_query_above_the_threshold() -> None:
    clock = FakeClock()
    names = ["Id", "LastName", "HasOptedOutOfEmail", "SystemModstamp"]
    _describe(names=names)
    responses.get(f"{DATA}/query", json={"totalSize": 3, "done": True, "records": []})
    responses.post(f"{DATA}/jobs/query", json={"id": "750XX0000000001AAA", "state": "UploadComplete"})
    responses.get(f"{DATA}/jobs/query/750XX0000000001AAA", json={"state": "InProgress"})
    responses.get(f"{DATA}/jobs/query/750XX0000000001AAA", json={"state": "JobComplete"})
    results = f"{DATA}/jobs/query/750XX0000000001AAA/results"
    responses.get(
        results,
        body='"Id","LastName","HasOptedOutOfEmail","SystemModstamp"\n'
        '"0035g00000Abc01AAA","Un","true","2026-01-03T10:00:00.000Z"\n'
        '"0035g00000Abc02AAA","","false","2026-01-01T10:00:00.000Z"\n',
        headers={"Sforce-Locator": "Mg==", "Sforce-NumberOfRecords": "2"},
        content_type="text/csv",
    )
    responses.get(
        results,
        body='"Id","LastName","HasOptedOutOfEmail","SystemModstamp"\n'
        '"0035g00000Abc03AAA","Trois","false","2026-01-02T10:00:00.000Z"\n',
        headers={"Sforce-Locator": "null", "Sforce-NumberOfRecords": "1"},
        content_type="text/csv",
    )
    responses.delete(f"{DATA}/jobs/query/750XX0000000001AAA", status=204)
    pages = list(
        connector({"bulk_enabled": True, "bulk_threshold": 2, "bulk_poll_seconds": 3}, clock=clock).read("contacts")
    )
    assert [len(p.records) for p in pages] == [2, 1, 0]
    assert pages[0].records[0] == {
        "attributes": {"type": "Contact"},
        "Id": "0035g00000Abc01AAA",
        "LastName": "Un",
        "HasOptedOutOfEmail": True,
        "SystemModstamp": "2026-01-03T10:00:00.000Z",
    }
    assert pages[0].records[1]["LastName"] is None
    assert pages[0].state.cursor is None and pages[1].state.cursor is None  # unordered: only the end moves it
    assert pages[2].state.cursor == "2026-01-03T10:00:00+00:00"
    assert clock.sleeps == [3]
    job = json.loads(responses.calls[2].request.body)
    assert job["operation"] == "query" and "ORDER BY" not in job["query"] and job["query"].startswith("SELECT Id, ")
    assert parse_qs(urlsplit(responses.calls[6].request.url).query)["locator"] == ["Mg=="]


# -- secrets -------------------------------------------------------------------------------------------


@responses.activate
def test_secrets_stay_out_of_reprs_logs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.post(f"{LOGIN}/services/Soap/u/60.0", body=SOAP_OK.format(session=TOKEN))
    responses.get(
        f"{INSTANCE}/services/data", status=503, json=[{"message": f"echo {TOKEN}", "errorCode": "SERVER_UNAVAILABLE"}]
    )
    responses.get(
        f"{INSTANCE}/services/data",
        status=403,
        json=[{"message": f"refused {TOKEN}", "errorCode": "INSUFFICIENT_ACCESS"}],
    )
    built = connector(SOAP_SETTINGS, SOAP_ENV)
    with pytest.raises(ApiError) as failure:
        built.client.versions()
    texts = [
        repr(built),
        repr(built.settings),
        repr(built.client),
        str(failure.value),
        caplog.text,
        json.dumps(built.settings.model_dump(mode="json")),
    ]
    for text in texts:
        for secret in (TOKEN, PASSWORD, SECURITY_TOKEN):
            assert secret not in text


# -- writes ----------------------------------------------------------------------------------------------


def _query_router(answers: dict[str, list[dict[str, Any]]]) -> None:
    """Answer SOQL lookups by the first matching pattern of the query text."""

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        soql = soql_of(request)
        for pattern, records in answers.items():
            if re.search(pattern, soql):
                return 200, {}, json.dumps(page(records, total=len(records)))
        return 400, {}, json.dumps([{"message": f"unexpected {soql}", "errorCode": "MALFORMED_QUERY"}])

    responses.add_callback(responses.GET, f"{DATA}/query", callback=reply)


@responses.activate
def test_customer_writes_skip_unchanged_update_by_id_and_upsert_by_external_id() -> None:
    current = {
        "Id": "0035g00000Abc01AAA",
        "FirstName": "Ana",
        "LastName": "Lopez",
        "Email": "ana@example.fr",
        "Phone": None,
        "MobilePhone": "+33 6 12 34 56 78",
        "Canalis_Customer_Id__c": "CUS-1",
    }
    other = {
        "Id": "0035g00000Abc02AAA",
        "FirstName": "Bo",
        "LastName": "Durand",
        "Email": "bo@example.fr",
        "Phone": None,
        "MobilePhone": None,
        "Canalis_Customer_Id__c": None,
    }
    _query_router({r"WHERE Id IN": [current, other], r"WHERE Canalis_Customer_Id__c IN": []})
    update = responses.patch(f"{DATA}/composite/sobjects", json=[{"id": other["Id"], "success": True, "errors": []}])
    upsert = responses.patch(
        f"{DATA}/composite/sobjects/Contact/Canalis_Customer_Id__c",
        json=[
            {"id": "0035g00000Abc09AAA", "success": True, "errors": [], "created": True},
            {
                "id": None,
                "success": False,
                "errors": [
                    {
                        "statusCode": "REQUIRED_FIELD_MISSING",
                        "message": "Required fields are missing: [LastName]",
                        "fields": ["LastName"],
                    }
                ],
            },
        ],
    )
    records = [
        {
            "key": "k1",
            "source_id": current["Id"],
            "email": "ANA@example.fr",
            "given_name": "Ana",
            "family_name": "Lopez",
            "phone": "+33612345678",
            "external_id": "CUS-1",
        },
        {"key": "k2", "source_id": other["Id"][:15], "email": "bo@example.fr", "external_id": "CUS-2"},
        {"key": "k3", "external_id": "CUS-3", "email": "new@example.fr", "family_name": "Neuf"},
        {"key": "k4", "external_id": "CUS-4", "email": "nolast@example.fr"},
        {"key": "k5", "email": "orphan@example.fr"},
    ]
    results = list(connector().write("customers", records))
    assert [(r.record_key, r.status) for r in results] == [
        ("k1", "unchanged"),
        ("k2", "applied"),
        ("k3", "applied"),
        ("k4", "failed"),
        ("k5", "failed"),
    ]
    assert results[3].error == "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"
    assert results[2].vendor_id == "0035g00000Abc09AAA"
    assert json.loads(update.calls[0].request.body) == {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Contact"}, "Id": other["Id"], "Canalis_Customer_Id__c": "CUS-2"}],
    }
    sent = json.loads(upsert.calls[0].request.body)["records"]
    assert sent[0] == {
        "attributes": {"type": "Contact"},
        "Email": "new@example.fr",
        "LastName": "Neuf",
        "Canalis_Customer_Id__c": "CUS-3",
    }


@responses.activate
def test_writes_go_in_batches_of_200_with_one_result_each() -> None:
    _query_router({r"WHERE Canalis_Customer_Id__c IN": []})
    sizes: list[int] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        records = json.loads(request.body)["records"]
        sizes.append(len(records))
        return (
            200,
            {},
            json.dumps(
                [{"id": f"003{i:015d}", "success": True, "errors": [], "created": True} for i, _ in enumerate(records)]
            ),
        )

    responses.add_callback(responses.PATCH, f"{DATA}/composite/sobjects/Contact/Canalis_Customer_Id__c", callback=reply)
    records = ({"key": f"k{i}", "external_id": f"CUS-{i}", "family_name": "X"} for i in range(450))
    results = list(connector().write("customers", records))
    assert sizes == [200, 200, 50]
    assert [r.record_key for r in results] == [f"k{i}" for i in range(450)]
    assert all(r.status == "applied" for r in results)


@responses.activate
def test_a_batch_that_keeps_failing_is_reported_retryable() -> None:
    _query_router({r"WHERE Canalis_Customer_Id__c IN": []})
    responses.patch(
        f"{DATA}/composite/sobjects/Contact/Canalis_Customer_Id__c",
        status=503,
        json=[{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}],
    )
    results = list(
        connector({"max_attempts": 2}).write(
            "customers",
            [
                {"key": "k1", "external_id": "CUS-1", "family_name": "X"},
                {"key": "k2", "external_id": "CUS-2", "family_name": "Y"},
            ],
        )
    )
    assert [(r.status, r.retryable) for r in results] == [("failed", True), ("failed", True)]
    assert "503" in (results[0].error or "")


@responses.activate
def test_consents_set_the_email_opt_out() -> None:
    first = {"Id": "0035g00000Abc01AAA", "Email": "ana@example.fr", "HasOptedOutOfEmail": False}
    twin = {"Id": "0035g00000Abc02AAA", "Email": "ana@example.fr", "HasOptedOutOfEmail": True}
    already = {"Id": "0035g00000Abc03AAA", "Email": "cy@example.fr", "HasOptedOutOfEmail": True}
    _query_router({r"WHERE Id IN": [already], r"WHERE Email IN": [first, twin]})
    update = responses.patch(f"{DATA}/composite/sobjects", json=[{"id": first["Id"], "success": True, "errors": []}])
    records = [
        {
            "key": "c1",
            "source_id": None,
            "email": "Ana@Example.fr",
            "purpose": "marketing",
            "channel": "email",
            "status": "denied",
        },
        {
            "key": "c2",
            "source_id": already["Id"],
            "email": None,
            "purpose": "marketing",
            "channel": "email",
            "status": "denied",
        },
        {
            "key": "c3",
            "source_id": None,
            "email": "nobody@example.fr",
            "purpose": "marketing",
            "channel": "email",
            "status": "denied",
        },
        {
            "key": "c4",
            "source_id": already["Id"],
            "email": None,
            "purpose": "marketing",
            "channel": "sms",
            "status": "denied",
        },
    ]
    results = list(connector().write("consents", records))
    assert [(r.record_key, r.status) for r in results] == [
        ("c1", "applied"),
        ("c2", "unchanged"),
        ("c3", "skipped"),
        ("c4", "skipped"),
    ]
    assert json.loads(update.calls[0].request.body)["records"] == [
        {"attributes": {"type": "Contact"}, "Id": first["Id"], "HasOptedOutOfEmail": True}
    ]


@responses.activate
def test_prices_update_the_standard_pricebook_entries() -> None:
    _query_router(
        {
            r"FROM Pricebook2 WHERE IsStandard = true": [{"Id": "01s5g00000Std01AAA"}],
            r"FROM PricebookEntry WHERE ProductCode IN .* AND Pricebook2Id = '01s5g00000Std01AAA'": [
                {"Id": "01u5g00000Ent01AAA", "ProductCode": "SKU-1", "UnitPrice": 19.9},
                {"Id": "01u5g00000Ent02AAA", "ProductCode": "SKU-2", "UnitPrice": 5.0},
            ],
        }
    )
    update = responses.patch(
        f"{DATA}/composite/sobjects", json=[{"id": "01u5g00000Ent02AAA", "success": True, "errors": []}]
    )
    from decimal import Decimal

    results = list(
        connector().write(
            "prices",
            [
                {"key": "p1", "sku": "SKU-1", "amount": Decimal("19.90"), "currency": "EUR"},
                {"key": "p2", "sku": "SKU-2", "amount": Decimal("5.50"), "currency": "EUR"},
                {"key": "p3", "sku": "SKU-3", "amount": Decimal("1.00"), "currency": "EUR"},
                {"key": "p4", "sku": "SKU-1", "amount": Decimal("20.00"), "currency": "USD"},
            ],
        )
    )
    assert [(r.record_key, r.status) for r in results] == [
        ("p1", "unchanged"),
        ("p2", "applied"),
        ("p3", "failed"),
        ("p4", "failed"),
    ]
    assert "no PricebookEntry for SKU SKU-3" in (results[2].error or "")
    assert "setting 'currency'" in (results[3].error or "")
    assert json.loads(update.calls[0].request.body)["records"] == [
        {"attributes": {"type": "PricebookEntry"}, "Id": "01u5g00000Ent02AAA", "UnitPrice": 5.5}
    ]
