"""The Salesforce emulator: wire contract, simple-salesforce unchanged against it, paging, auth, limits, faults.

simple-salesforce always builds https:// URLs and logs in at https://<domain>.salesforce.com; the sandbox
serves plain HTTP on loopback under /salesforce. The only adaptation is a transport adapter on the requests
session handed to simple-salesforce (its documented `session` argument) that sends those URLs to the sandbox;
every request body, header and answer goes through simple-salesforce's own code.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from werkzeug.serving import make_server
from werkzeug.test import Client

from canalis.sandbox.emulators.salesforce import EMULATOR, SalesforceEmulator
from canalis.sandbox.emulators.salesforce.auth import SandboxCredentials
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.app import SandboxApp, load_emulators
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.world import WorldSpec, generate_world, store_path

SPECS = Path("/work/shared/specs/salesforce")
WIRE = yaml.safe_load((SPECS / "rest-wire-reference.yaml").read_text()) if SPECS.exists() else None
VERSION = "60.0"
SF_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"


class SandboxAdapter(HTTPAdapter):
    """Sends simple-salesforce's https:// URLs (instance and login host) to the sandbox over HTTP."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url  # http://127.0.0.1:<port>/salesforce
        self.host = sandbox_url.split("://", 1)[1].split("/", 1)[0]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        _, _, rest = (request.url or "").partition("://")
        _, _, path = rest.partition("/")
        path = "/" + path
        if not path.startswith("/salesforce/"):
            path = "/salesforce" + path  # login host, or an instance URL taken from a login answer without its path
        request.url = f"http://{self.host}{path}"
        return super().send(request, **kwargs)


def shim_session(sandbox_url: str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", SandboxAdapter(sandbox_url))
    return session


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("sf-world")
    generate_world(WorldSpec(seed=11, customers=120, products=250), data_dir)
    return data_dir


@pytest.fixture(scope="module")
def sandbox(world: Path) -> Iterator[tuple[str, SandboxApp]]:
    """The emulator on a loopback port; yields its base URL and the app (to reach the emulator instance)."""
    store = ObjectStore(store_path(world))
    app = SandboxApp(store, emulators=[SalesforceEmulator])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{app.base_url}/salesforce", app
    finally:
        server.shutdown()
        server.server_close()
        store.close()


@pytest.fixture(scope="module")
def url(sandbox: tuple[str, SandboxApp]) -> str:
    return sandbox[0]


@pytest.fixture(scope="module")
def emulator(sandbox: tuple[str, SandboxApp]) -> SalesforceEmulator:
    found = sandbox[1].emulators["salesforce"]
    assert isinstance(found, SalesforceEmulator)
    return found


@pytest.fixture(scope="module")
def store(sandbox: tuple[str, SandboxApp]) -> ObjectStore:
    return sandbox[1].store


@pytest.fixture
def sf(url: str, emulator: SalesforceEmulator) -> Salesforce:
    """simple-salesforce with a session id and the sandbox instance (host and path) as its instance."""
    instance = url.split("://", 1)[1]
    return Salesforce(
        instance=instance,
        session_id=emulator.sandbox_credentials.access_token,
        session=shim_session(url),
        version=VERSION,
    )


def _auth(emulator: SalesforceEmulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.sandbox_credentials.access_token}"}


def _live(store: ObjectStore, sobject: str) -> list[dict[str, Any]]:
    return [o.payload for o in store.iter_all("salesforce", sobject) if not o.payload.get("IsDeleted")]


def _parse(value: str) -> datetime:
    return datetime.strptime(value, SF_DATETIME).astimezone(UTC)


# -- registration, versions, auth ---------------------------------------------------------------------


def test_emulator_is_registered_by_the_sandbox() -> None:
    assert EMULATOR is SalesforceEmulator
    assert SalesforceEmulator in load_emulators()


def test_versions_are_public_and_unknown_versions_are_not_found(url: str, emulator: SalesforceEmulator) -> None:
    versions = requests.get(f"{url}/services/data", timeout=5).json()
    served = {v["version"] for v in versions}
    assert {"59.0", "60.0", "61.0", "62.0", "63.0"} <= served
    assert all(v["url"] == f"/services/data/v{v['version']}" for v in versions)
    answer = requests.get(f"{url}/services/data/v99.0/limits", headers=_auth(emulator), timeout=5)
    assert answer.status_code == 404
    assert answer.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_wrong_token_gets_invalid_session_id(url: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = requests.get(
        f"{url}/services/data/v{VERSION}/query", params={"q": "SELECT Id FROM Account"}, headers=headers, timeout=5
    )
    assert answer.status_code == 401
    assert answer.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_simple_salesforce_with_a_bad_session_id_raises_expired_session(url: str) -> None:
    sf = Salesforce(instance=url.split("://", 1)[1], session_id="nope", session=shim_session(url), version=VERSION)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_simple_salesforce_soap_login_then_query(url: str, emulator: SalesforceEmulator, store: ObjectStore) -> None:
    creds = emulator.sandbox_credentials
    sf = Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=shim_session(url),
        version=VERSION,
    )
    assert sf.session_id != creds.access_token
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == len(_live(store, "Account"))


def test_simple_salesforce_soap_login_with_a_wrong_password_fails(url: str, emulator: SalesforceEmulator) -> None:
    creds = emulator.sandbox_credentials
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=creds.username,
            password="wrong",
            security_token=creds.security_token,
            session=shim_session(url),
            version=VERSION,
        )
    assert failure.value.code == "INVALID_LOGIN"


def test_expired_session_is_renewed_by_simple_salesforce(url: str, emulator: SalesforceEmulator) -> None:
    creds = emulator.sandbox_credentials
    sf = Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=shim_session(url),
        version=VERSION,
    )
    first = sf.session_id
    emulator.expire_sessions()
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    assert sf.session_id != first


def test_oauth_password_grant_through_simple_salesforce(url: str, emulator: SalesforceEmulator) -> None:
    creds = emulator.sandbox_credentials
    sf = Salesforce(
        username=creds.username,
        password=creds.password + creds.security_token,
        consumer_key=creds.client_id,
        consumer_secret=creds.client_secret,
        session=shim_session(url),
        version=VERSION,
    )
    assert sf.query("SELECT Id FROM Product2 LIMIT 2")["totalSize"] == 2


def test_oauth_client_credentials_and_refusals(url: str, emulator: SalesforceEmulator) -> None:
    creds = emulator.sandbox_credentials
    token = requests.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
        timeout=5,
    )
    assert token.status_code == 200
    body = token.json()
    assert body["instance_url"] == url and body["token_type"] == "Bearer"
    answer = requests.get(
        f"{url}/services/data/v{VERSION}/limits", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert answer.status_code == 200
    refused = requests.post(
        f"{url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": "wrong",
            "username": creds.username,
            "password": creds.password,
        },
        timeout=5,
    )
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}
    bad_grant = requests.post(
        f"{url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": "wrong",
        },
        timeout=5,
    )
    assert bad_grant.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


# -- query ---------------------------------------------------------------------------------------------


def test_query_returns_the_store_records_in_wire_shape(sf: Salesforce, store: ObjectStore) -> None:
    result = sf.query("SELECT Id, Name, ProductCode, IsActive, SystemModstamp FROM Product2 LIMIT 5")
    assert result["done"] is True and result["totalSize"] == 5
    record = result["records"][0]
    assert list(record) == ["attributes", "Id", "Name", "ProductCode", "IsActive", "SystemModstamp"]
    assert record["attributes"] == {
        "type": "Product2",
        "url": f"/services/data/v{VERSION}/sobjects/Product2/{record['Id']}",
    }
    stored = store.get("salesforce", "Product2", record["Id"])
    assert stored is not None and stored["Name"] == record["Name"]
    assert _parse(record["SystemModstamp"])


def test_query_all_follows_next_records_url(sf: Salesforce, store: ObjectStore) -> None:
    expected = {p["Id"] for p in _live(store, "Product2")}
    assert len(expected) > 200
    first = sf.query("SELECT Id FROM Product2", headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["done"] is False and len(first["records"]) == 200 and first["totalSize"] == len(expected)
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    everything = sf.query_all("SELECT Id FROM Product2", headers={"Sforce-Query-Options": "batchSize=200"})
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == len(set(ids)) and set(ids) == expected


def test_default_batch_is_2000_and_small_batch_sizes_are_raised_to_200(sf: Salesforce) -> None:
    assert sf.query("SELECT Id FROM Product2")["done"] is True
    small = sf.query("SELECT Id FROM Product2", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(small["records"]) == 200


def test_incremental_filter_and_order_match_the_store(sf: Salesforce, store: ObjectStore) -> None:
    contacts = _live(store, "Contact")
    stamps = sorted(_parse(c["SystemModstamp"]) for c in contacts)
    cut = stamps[len(stamps) // 2]
    literal = cut.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cut.microsecond // 1000:03d}Z"
    result = sf.query_all(
        f"SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp > {literal} ORDER BY SystemModstamp ASC, Id ASC"
    )
    expected = sorted((_parse(c["SystemModstamp"]), c["Id"]) for c in contacts if _parse(c["SystemModstamp"]) > cut)
    assert [(_parse(r["SystemModstamp"]), r["Id"]) for r in result["records"]] == expected


def test_where_operators(sf: Salesforce, store: ObjectStore) -> None:
    contacts = _live(store, "Contact")
    sample = next(c for c in contacts if c["Email"])
    by_email = sf.query(f"SELECT Id FROM Contact WHERE Email = '{sample['Email'].upper()}'")
    assert sample["Id"] in {r["Id"] for r in by_email["records"]}  # text comparisons ignore case
    opted = sf.query("SELECT COUNT() FROM Contact WHERE HasOptedOutOfEmail = true")["totalSize"]
    assert opted == sum(1 for c in contacts if c["HasOptedOutOfEmail"])
    ids = [c["Id"] for c in contacts[:3]]
    listed = sf.query(f"SELECT Id FROM Contact WHERE Id IN ('{ids[0]}', '{ids[1][:15]}', '{ids[2]}')")
    assert {r["Id"] for r in listed["records"]} == set(ids)
    born = sf.query("SELECT COUNT() FROM Contact WHERE Birthdate < 1980-01-01 AND Birthdate != null")["totalSize"]
    assert born == sum(1 for c in contacts if c["Birthdate"] and c["Birthdate"] < "1980-01-01")
    complaints = sf.query(
        "SELECT COUNT() FROM Case WHERE Type = 'Complaint' OR (Priority = 'High' AND NOT IsClosed = true)"
    )
    cases = _live(store, "Case")
    assert complaints["totalSize"] == sum(
        1 for c in cases if c["Type"] == "Complaint" or (c["Priority"] == "High" and not c["IsClosed"])
    )
    like = sf.query(
        "SELECT Id, ProductCode FROM Product2 WHERE ProductCode LIKE '%-10__' "
        "ORDER BY ProductCode DESC LIMIT 3 OFFSET 1"
    )
    codes = sorted(
        (p["ProductCode"] for p in _live(store, "Product2") if p["ProductCode"][-4:-2] == "10"), reverse=True
    )
    assert [r["ProductCode"] for r in like["records"]] == codes[1:4]


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Id, Foo FROM Contact", "INVALID_FIELD", "No such column 'Foo' on entity 'Contact'"),
        ("SELECT Id FROM Nope", "INVALID_TYPE", "sObject type 'Nope' is not supported"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "unexpected"),
        (
            "SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01T00:00:00Z'",
            "INVALID_FIELD",
            "must be of type dateTime",
        ),
        ("SELECT Id FROM Contact WHERE Email = foo", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Contact WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
    ],
)
def test_invalid_soql_gets_salesforce_errors(sf: Salesforce, soql: str, code: str, fragment: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query(soql)
    assert failure.value.status == 400
    [problem] = failure.value.content
    assert problem["errorCode"] == code and fragment in problem["message"]


def test_invalid_field_message_points_at_the_column(url: str, emulator: SalesforceEmulator) -> None:
    answer = requests.get(
        f"{url}/services/data/v{VERSION}/query",
        params={"q": "SELECT Id, Foo FROM Contact"},
        headers=_auth(emulator),
        timeout=5,
    )
    assert answer.json()[0]["message"].startswith(
        "\nSELECT Id, Foo FROM Contact\n           ^\nERROR at Row:1:Column:12\n"
    )


# -- sObject rows, upsert, describe --------------------------------------------------------------------


def test_create_get_update_delete(sf: Salesforce, store: ObjectStore) -> None:
    created = sf.Contact.create({"FirstName": "Léa", "LastName": "Martin", "Email": "lea.martin@example.fr"})
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("003")
    record = sf.Contact.get(created["id"])
    assert record["Name"] == "Léa Martin" and record["HasOptedOutOfEmail"] is False
    before = _parse(record["SystemModstamp"])
    assert sf.Contact.update(created["id"], {"HasOptedOutOfEmail": True}) == 204
    after = sf.Contact.get(created["id"])
    assert after["HasOptedOutOfEmail"] is True and _parse(after["SystemModstamp"]) > before
    stored = store.get_object("salesforce", "Contact", created["id"])
    assert stored is not None and stored.updated_at.startswith(after["SystemModstamp"][:23])
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])
    live = sf.query(f"SELECT Id FROM Contact WHERE Id = '{created['id']}'")
    assert live["totalSize"] == 0
    binned = sf.query_all(f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{created['id']}'", include_deleted=True)
    assert binned["records"][0]["IsDeleted"] is True


def test_create_errors_use_the_error_array(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Contact.create({"FirstName": "No", "Email": "not-an-email"})
    codes = {e["errorCode"] for e in failure.value.content}
    assert codes == {"INVALID_EMAIL_ADDRESS", "REQUIRED_FIELD_MISSING"}
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Contact.create({"LastName": "X", "HasOptedOutOfEmail": "yes"})
    assert failure.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_upsert_by_external_id(sf: Salesforce, url: str, emulator: SalesforceEmulator) -> None:
    path = "Canalis_Customer_Id__c/CUS-UPSERT-1"
    assert sf.Contact.upsert(path, {"LastName": "Petit", "Email": "petit@example.fr"}) == 201
    assert sf.Contact.upsert(path, {"FirstName": "Anne"}) == 200
    found = sf.query("SELECT Id, FirstName, LastName FROM Contact WHERE Canalis_Customer_Id__c = 'CUS-UPSERT-1'")
    assert found["totalSize"] == 1  # the same change twice never makes a second record
    assert found["records"][0]["FirstName"] == "Anne"
    old = requests.patch(
        f"{url}/services/data/v45.0/sobjects/Contact/{path}",
        json={"Title": "Gérante"},
        headers=_auth(emulator),
        timeout=5,
    )
    assert old.status_code == 204 and old.content == b""
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert("No_Such_Field__c/1", {"LastName": "X"})
    update_only = requests.patch(
        f"{url}/services/data/v{VERSION}/sobjects/Contact/Canalis_Customer_Id__c/NEW-1",
        params={"updateOnly": "true"},
        json={"LastName": "X"},
        headers=_auth(emulator),
        timeout=5,
    )
    assert update_only.status_code == 404


def test_upsert_with_several_matches_is_a_300(sf: Salesforce) -> None:
    for name in ("One", "Two"):
        sf.Contact.create({"LastName": name, "Canalis_Customer_Id__c": "CUS-TWICE"})
    with pytest.raises(SalesforceMoreThanOneRecord) as failure:
        sf.Contact.upsert("Canalis_Customer_Id__c/CUS-TWICE", {"Title": "x"})
    assert len(failure.value.content) == 2
    assert all(u.startswith(f"/services/data/v{VERSION}/sobjects/Contact/003") for u in failure.value.content)


def test_describe_has_the_fields_connectors_use(sf: Salesforce) -> None:
    described = sf.Contact.describe()
    assert described["name"] == "Contact" and described["keyPrefix"] == "003"
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Canalis_Customer_Id__c"]["externalId"] is True and fields["Canalis_Customer_Id__c"]["custom"]
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["relationshipName"] == "Account"
    assert fields["MailingCity"]["compoundFieldName"] == "MailingAddress"
    assert fields["SystemModstamp"]["type"] == "datetime" and not fields["SystemModstamp"]["updateable"]
    global_describe = sf.describe()
    assert {"Account", "Contact", "Case", "Task", "Product2", "PricebookEntry"} <= {
        s["name"] for s in global_describe["sobjects"]
    }


@pytest.mark.skipif(WIRE is None, reason="vendor wire reference not available")
def test_describe_validates_against_the_wire_reference(sf: Salesforce) -> None:
    used = WIRE["sobject_describe"]["response_fields_used_by_connectors"]
    field_keys = sorted({entry.split(".", 1)[1].removesuffix("[]") for entry in used})
    schema = {
        "type": "object",
        "required": ["fields", "name", "keyPrefix", "urls"],
        "properties": {
            "fields": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": field_keys,
                    "properties": {
                        "type": {
                            "enum": [
                                "id",
                                "string",
                                "datetime",
                                "date",
                                "double",
                                "currency",
                                "boolean",
                                "reference",
                                "picklist",
                                "email",
                                "phone",
                                "url",
                                "textarea",
                                "int",
                                "combobox",
                                "address",
                                "percent",
                            ]
                        },
                        "picklistValues": {
                            "type": "array",
                            "items": {"type": "object", "required": ["value", "label", "active", "defaultValue"]},
                        },
                        "referenceTo": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
    }
    for name in ("Account", "Contact", "Case", "Task", "Product2", "PricebookEntry"):
        jsonschema.validate(getattr(sf, name).describe(), schema)


# -- composite sObject collections -----------------------------------------------------------------------

SAVE_RESULT = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "success", "errors"],
        "properties": {
            "id": {"type": ["string", "null"]},
            "success": {"type": "boolean"},
            "errors": {"type": "array", "items": {"type": "object", "required": ["statusCode", "message", "fields"]}},
        },
    },
}


def test_collections_create_reports_each_record(sf: Salesforce, store: ObjectStore) -> None:
    if WIRE is not None:
        assert WIRE["composite_sobjects_collections"]["limits"]["max_records"] == 200
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Alpha", "Email": "alpha@example.fr"},
            {"attributes": {"type": "Contact"}, "LastName": "Beta", "Email": "beta@@example"},
            {"attributes": {"type": "Account"}, "Name": "Gamma SARL"},
        ],
    }
    results = sf.restful("composite/sobjects", method="POST", json=body)
    jsonschema.validate(results, SAVE_RESULT)
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS" and results[1]["id"] is None
    assert store.get("salesforce", "Contact", results[0]["id"])["LastName"] == "Alpha"
    assert store.get("salesforce", "Account", results[2]["id"])["Name"] == "Gamma SARL"


def test_collections_all_or_none_rolls_back(sf: Salesforce) -> None:
    before = sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    body = {
        "allOrNone": True,
        "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Kept?"},
            {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
        ],
    }
    results = sf.restful("composite/sobjects", method="POST", json=body)
    jsonschema.validate(results, SAVE_RESULT)
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == before


def test_collections_refuse_more_than_200_records(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": f"N{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert failure.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collections_update_and_upsert(sf: Salesforce, store: ObjectStore) -> None:
    contact = _live(store, "Contact")[0]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "Id": contact["Id"], "Title": "Acheteuse"},
                {"attributes": {"type": "Contact"}, "Id": "0035g00000zzzzzAAA", "Title": "x"},
                {"attributes": {"type": "Contact"}, "Title": "no id"},
            ]
        },
    )
    assert [r["success"] for r in updated] == [True, False, False]
    assert updated[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert store.get("salesforce", "Contact", contact["Id"])["Title"] == "Acheteuse"
    upserted = sf.restful(
        "composite/sobjects/Contact/Canalis_Customer_Id__c",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "Canalis_Customer_Id__c": "CUS-COLL-1", "LastName": "Roux"},
                {"attributes": {"type": "Contact"}, "Canalis_Customer_Id__c": "CUS-COLL-2", "LastName": "Blanc"},
                {"attributes": {"type": "Contact"}, "Canalis_Customer_Id__c": "CUS-COLL-3", "LastName": "Dup"},
                {"attributes": {"type": "Contact"}, "Canalis_Customer_Id__c": "CUS-COLL-3", "LastName": "Dup"},
            ]
        },
    )
    jsonschema.validate(upserted, SAVE_RESULT)
    assert [(r["success"], r["created"]) for r in upserted] == [
        (True, True),
        (True, True),
        (False, False),
        (False, False),
    ]
    assert upserted[2]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    again = sf.restful(
        "composite/sobjects/Contact/Canalis_Customer_Id__c",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "Canalis_Customer_Id__c": "CUS-COLL-1", "FirstName": "Paul"}
            ]
        },
    )
    assert again[0] == {"id": upserted[0]["id"], "success": True, "errors": [], "created": False}


# -- limits ----------------------------------------------------------------------------------------------


def test_limits_and_sforce_limit_info(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    sf.query("SELECT Id FROM Account LIMIT 1")
    used = sf.api_usage["api-usage"]
    assert used.total == emulator.daily_api_requests and used.used >= 1
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert sf.api_usage["api-usage"].used == used.used + 1
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == emulator.daily_api_requests
    assert limits["DailyApiRequests"]["Remaining"] < emulator.daily_api_requests


def test_daily_limit_exceeded_is_a_403(
    sf: Salesforce, emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator, "daily_api_requests", emulator.api_usage())
    with pytest.raises(Exception) as failure:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert failure.value.status == 403  # type: ignore[attr-defined]
    assert failure.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"  # type: ignore[attr-defined]


# -- Bulk API 2.0 ----------------------------------------------------------------------------------------


def test_bulk2_query_through_simple_salesforce(sf: Salesforce, store: ObjectStore) -> None:
    sets = list(
        sf.bulk2.Product2.query("SELECT Id, Name, IsActive, SystemModstamp FROM Product2", max_records=100, wait=0)
    )
    rows = [row for text in sets for row in csv.DictReader(io.StringIO(text))]
    assert len(sets) == 3  # 250 products in sets of 100
    assert {r["Id"] for r in rows} == {p["Id"] for p in _live(store, "Product2")}
    assert rows[0]["IsActive"] in ("true", "false") and rows[0]["SystemModstamp"].endswith("Z")


def test_bulk2_job_life_cycle_and_headers(url: str, emulator: SalesforceEmulator, store: ObjectStore) -> None:
    headers = _auth(emulator)
    jobs = f"{url}/services/data/v{VERSION}/jobs/query"
    created = requests.post(
        jobs,
        json={"operation": "query", "query": "SELECT Id, UnitPrice FROM PricebookEntry"},
        headers=headers,
        timeout=5,
    ).json()
    assert created["state"] == "UploadComplete" and created["id"].startswith("750") and created["apiVersion"] == 60.0
    early = requests.get(f"{jobs}/{created['id']}/results", headers=headers, timeout=5)
    assert early.status_code == 400
    assert requests.get(f"{jobs}/{created['id']}", headers=headers, timeout=5).json()["state"] == "InProgress"
    done = requests.get(f"{jobs}/{created['id']}", headers=headers, timeout=5).json()
    assert done["state"] == "JobComplete" and done["numberRecordsProcessed"] == len(_live(store, "PricebookEntry"))
    first = requests.get(f"{jobs}/{created['id']}/results", params={"maxRecords": 200}, headers=headers, timeout=5)
    assert first.headers["Content-Type"].startswith("text/csv")
    assert first.headers["Sforce-NumberOfRecords"] == "200" and first.headers["Sforce-Locator"] != "null"
    last = requests.get(
        f"{jobs}/{created['id']}/results",
        params={"locator": first.headers["Sforce-Locator"]},
        headers=headers,
        timeout=5,
    )
    assert last.headers["Sforce-Locator"] == "null"
    total = int(first.headers["Sforce-NumberOfRecords"]) + int(last.headers["Sforce-NumberOfRecords"])
    assert total == done["numberRecordsProcessed"]
    count_job = requests.post(
        jobs, json={"operation": "query", "query": "SELECT COUNT() FROM Contact"}, headers=headers, timeout=5
    )
    assert count_job.status_code == 400
    assert requests.delete(f"{jobs}/{created['id']}", headers=headers, timeout=5).status_code == 204
    assert requests.get(f"{jobs}/{created['id']}", headers=headers, timeout=5).status_code == 404


# -- faults, malformed records ---------------------------------------------------------------------------


def _client_with_faults(world: Path, spec: str) -> tuple[Client, ObjectStore]:
    store = ObjectStore(store_path(world))
    app = SandboxApp(store, faults=FaultPlan.from_spec(spec, seed=3), emulators=[SalesforceEmulator])
    return Client(app), store


def test_injected_429_and_5xx_use_salesforce_bodies(world: Path) -> None:
    token = {"Authorization": f"Bearer {SandboxCredentials().access_token}"}
    client, store = _client_with_faults(world, "salesforce:429=1")
    try:
        answer = client.get(f"/salesforce/services/data/v{VERSION}/limits", headers=token)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
        assert json.loads(answer.data)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    finally:
        store.close()
    client, store = _client_with_faults(world, "salesforce:500=1")
    try:
        answer = client.get(f"/salesforce/services/data/v{VERSION}/limits", headers=token)
        assert answer.status_code == 500 and json.loads(answer.data)[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    finally:
        store.close()


def test_malformed_fault_spoils_records(world: Path) -> None:
    token = {"Authorization": f"Bearer {SandboxCredentials().access_token}"}
    client, store = _client_with_faults(world, "salesforce:malformed=1")
    try:
        answer = client.get(
            f"/salesforce/services/data/v{VERSION}/query",
            query_string={"q": "SELECT Id, SystemModstamp FROM Account"},
            headers=token,
        )
        records = json.loads(answer.data)["records"]
        assert records and all(r["SystemModstamp"] == "2026-13-45T99:99:99.000+0000" for r in records)
    finally:
        store.close()


# -- Postman collection: every request shape in scope is served ------------------------------------------

IN_SCOPE_FOLDERS = {"REST", "Composite", "Bulk v2 / Query"}
OUT_OF_SCOPE = {
    "Composite",
    "Batch",
    "Composite Graph",
    "SObject Tree",
    "Record Count",
    "SObject Get Deleted",
    "SObject Get Updated",
}


@pytest.mark.skipif(not SPECS.exists(), reason="vendor request collection not available")
def test_postman_requests_in_scope_are_served(url: str, emulator: SalesforceEmulator) -> None:
    collection = json.loads((SPECS / "postman-salesforce-apis-requests-subset.json").read_text())
    headers = _auth(emulator)
    data = f"{url}/services/data/v{VERSION}"
    served = 0
    for item in collection["requests"]:
        if item["folder"] not in IN_SCOPE_FOLDERS or item["name"] in OUT_OF_SCOPE:
            continue
        account = requests.post(
            f"{data}/sobjects/Account", json={"Name": "Postman SARL"}, headers=headers, timeout=5
        ).json()["id"]
        job = requests.post(
            f"{data}/jobs/query",
            json={"operation": "query", "query": "SELECT Id FROM Account"},
            headers=headers,
            timeout=5,
        ).json()["id"]
        if item["name"] == "Get Job Query Result":
            for _ in range(2):
                requests.get(f"{data}/jobs/query/{job}", headers=headers, timeout=5)
        target = (
            item["url"]
            .replace("{{_endpoint}}", url)
            .replace("{{version}}", VERSION)
            .replace("<SOBJECT_API_NAME>", "Account")
            .replace("<RECORD_ID>", account)
            .replace("<FIELD_NAME>", "Id")
            .replace("<FIELD_VALUE>", account)
            .replace("{{_jobId}}", job)
        )
        body = _body_for(item, account) if item["method"] in ("POST", "PATCH") else None
        answer = requests.request(item["method"], target, json=body, headers=headers, timeout=5)
        assert answer.status_code not in (404, 405), (item["name"], target, answer.status_code, answer.text[:200])
        assert answer.status_code < 500, (item["name"], answer.text[:200])
        served += 1
    assert served >= 20


def _body_for(item: dict[str, Any], account: str) -> Any:
    name = item["name"]
    if name == "SObject Create":
        return {"Name": "Postman SARL"}
    if name in ("SObject Rows Update", "SObject Rows by External ID"):
        return {"Website": "https://postman.example"}
    if name == "SObject Collections Create":
        return {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": "Coll SARL"}]}
    if name == "SObject Collections Update":
        return {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Id": account, "Phone": "1"}]}
    if name == "Create job Query":
        return {"operation": "query", "query": "SELECT Id, Name FROM Account", "contentType": "CSV"}
    if name == "Abort a Job Query":
        return {"state": "Aborted"}
    return None
