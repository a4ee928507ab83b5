"""Answers are read up to a size cap that fails the call naming the system and the call; XML answers (Odoo
XML-RPC, Salesforce SOAP) are parsed without DTDs or entity expansion."""

from __future__ import annotations

import gzip
import xmlrpc.client
from collections.abc import Iterator

import pytest
import responses

from canalis.connectors.odoo.settings import OdooSettings
from canalis.connectors.salesforce.login import _xml_value
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.http import HttpClient, response_cap
from canalis.sdk.settings import HttpSettings, load_settings

BASE = "https://api.acme.test"
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    b"<methodResponse><params><param><value><string>&lol2;</string></value></param></params></methodResponse>"
)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_an_answer_over_the_cap_fails_the_call_once_naming_system_and_call(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/items", body=b"x" * 5000)
    client = HttpClient("acme", BASE, max_response_bytes=4096, sleep=lambda _: None)
    with pytest.raises(ApiError) as raised:
        client.get_json("/items", call="list items")
    assert raised.value.system == "acme" and raised.value.call == "list items"
    assert "larger than" in str(raised.value) and "max_response_mb" in str(raised.value)
    assert not raised.value.retryable and len(rsps.calls) == 1


def test_the_cap_counts_decompressed_bytes(rsps: responses.RequestsMock) -> None:
    packed = gzip.compress(b'"' + b"a" * 100_000 + b'"')
    assert len(packed) < 4096
    rsps.get(f"{BASE}/items", body=packed, headers={"Content-Encoding": "gzip"})
    client = HttpClient("acme", BASE, max_response_bytes=4096, sleep=lambda _: None)
    with pytest.raises(ApiError, match="larger than"):
        client.get_json("/items")


def test_an_answer_under_the_cap_is_read_whole(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/items", json={"items": list(range(100))})
    client = HttpClient("acme", BASE, max_response_bytes=4096)
    assert client.get_json("/items") == {"items": list(range(100))}


def test_the_cap_is_a_typed_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    class AcmeSettings(HttpSettings):
        env_prefix = "CANALIS_ACME"

    assert response_cap(load_settings(AcmeSettings, {"base_url": BASE}, connection="a")) == 100 * 1024 * 1024
    settings = load_settings(AcmeSettings, {"base_url": BASE, "max_response_mb": 0.5}, connection="a")
    assert response_cap(settings) == 512 * 1024
    with pytest.raises(ConfigError, match=r"max_response_mb"):
        load_settings(AcmeSettings, {"base_url": BASE, "max_response_mb": 0}, connection="a")


def test_an_xmlrpc_answer_with_entities_is_refused_naming_the_call() -> None:
    from canalis.connectors.odoo import OdooConnector

    settings = OdooSettings(url=BASE, protocol="xmlrpc", database="prod", login="bot", password="pw-123456")
    odoo = OdooConnector(settings, connection="erp", sleep=lambda _: None)
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/xmlrpc/2/common", body=LAUGHS, content_type="text/xml")
        with pytest.raises(ApiError, match=r"odoo: POST /xmlrpc/2/common version .*not an XML-RPC answer"):
            odoo.client.server_version()


def test_a_plain_xmlrpc_answer_still_parses() -> None:
    from canalis.connectors.odoo.client import xmlrpc_loads

    assert xmlrpc_loads(xmlrpc.client.dumps(({"a": [1, 2]},), methodresponse=True).encode()) == ({"a": [1, 2]},)
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc_loads(xmlrpc.client.dumps(xmlrpc.client.Fault(3, "denied"), methodresponse=True).encode())


def test_a_soap_answer_with_a_dtd_yields_no_value() -> None:
    plain = b"<env:Envelope xmlns:env='x'><env:Body><sessionId>abc&amp;d</sessionId></env:Body></env:Envelope>"
    assert _xml_value(plain, "sessionId") == "abc&d"
    hostile = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><r><sessionId>&e;</sessionId></r>'
    assert _xml_value(hostile, "sessionId") is None
