"""A connector declared in YAML: its settings, authentication, streams and batched writes come from the file, and a
wrong declaration is refused naming the path of what is wrong."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from canalis.sdk import ConfigError, StreamState, declarative_connector, describe_settings, load_settings

DECLARATION = textwrap.dedent(
    """
    name: tiny_crm
    kind: crm
    title: Tiny CRM
    description: A small CRM declared in YAML.
    settings:
      env_prefix: CANALIS_TINY
      defaults: {base_url: "https://{account}.tiny.test/api"}
      fields:
        api_key: {type: secret, description: API key., env: CANALIS_TINY_API_KEY}
        account: {type: string, description: Account name., env: CANALIS_TINY_ACCOUNT, required: true}
        list_id: {type: string, description: Audience., default: main}
        batch_size: {type: integer, description: Records per write call., default: 2, minimum: 1, maximum: 50}
    auth: {kind: basic, username: anything, password: "{api_key}"}
    check: {path: /ping}
    streams:
      - name: people
        path: /lists/{list_id}/people
        records_path: people
        primary_key: id
        cursor_field: changed_at
        cursor_param: since
        cursor_format: iso_z
        start: "2020-01-01"
        paginator: {kind: offset, limit: 2, offset_param: offset, limit_param: count, total_path: total}
        field_paths: [id, email, changed_at]
    writes:
      - name: consents
        path: /lists/{list_id}/batch
        batch_size: 50
        batch_path: members
        body: {update_existing: true}
        record:
          email_address: "{email}"
          status: {from: status, values: {denied: unsubscribed, granted: subscribed}}
        errors: {path: errors, match: email_address, record_field: email, message: error}
    """
)
PEOPLE = [{"id": str(n), "email": f"p{n}@example.org", "changed_at": f"2024-03-0{n}T08:00:00Z"} for n in range(1, 6)]
BASE = "https://acme.tiny.test/api"


@pytest.fixture
def declared(tmp_path: Path) -> Any:
    path = tmp_path / "connector.yaml"
    path.write_text(DECLARATION, encoding="utf-8")
    return declarative_connector(path)


def make(cls: Any, **values: Any) -> Any:
    settings = load_settings(
        cls.settings_model, {"account": "acme", **values}, connection="tiny", environ={"CANALIS_TINY_API_KEY": "k-123"}
    )
    return cls(settings, connection="tiny")


def test_the_declaration_becomes_a_connector_with_documented_settings(declared: Any, tmp_path: Path) -> None:
    assert declared.name == "tiny_crm" and declared.kind == "crm" and declared.title == "Tiny CRM"
    rows = {row.name: row for row in describe_settings(declared.settings_model)}
    assert rows["api_key"].secret and rows["api_key"].env == "CANALIS_TINY_API_KEY"
    assert (
        rows["base_url"].env == "CANALIS_TINY_BASE_URL"
        and rows["base_url"].default == "https://{account}.tiny.test/api"
    )
    assert rows["account"].required and rows["batch_size"].default == "2"
    assert [stream.name for stream in declared.streams] == ["people", "consents"]
    assert declared.mapping_path() == tmp_path / "mapping.yaml"
    with pytest.raises(ConfigError, match="secret must come from an environment variable"):
        load_settings(declared.settings_model, {"account": "a", "api_key": "x"}, connection="tiny", environ={})


def test_a_declared_stream_is_read_paged_authenticated_and_incrementally(declared: Any) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        params = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
        start, count = int(params["offset"]), int(params["count"])
        return 200, {}, json.dumps({"people": PEOPLE[start : start + count], "total": len(PEOPLE)})

    connector = make(declared)
    with responses.RequestsMock() as mock:
        mock.add_callback("GET", BASE + "/lists/main/people", callback=answer)
        pages = list(connector.read("people"))
        assert [r["id"] for page in pages for r in page.records] == ["1", "2", "3", "4", "5"]
        first = mock.calls[0].request
        assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"anything:k-123").decode()
        assert parse_qs(urlsplit(first.url).query)["since"] == ["2020-01-01T00:00:00Z"]  # the declared start
        again = list(connector.read("people", StreamState(cursor="2024-03-04T08:00:00+00:00")))
        assert [r["id"] for page in again for r in page.records] == ["4", "5"]
        mock.add("GET", BASE + "/ping", json={"health": "ok"})
        assert connector.check().ok


def test_declared_writes_are_batched_translated_and_report_refused_records(declared: Any) -> None:
    records = [{"key": f"k{n}", "email": f"p{n}@example.org", "status": "denied"} for n in range(3)]
    records[2]["status"] = "granted"
    connector = make(declared)
    with responses.RequestsMock() as mock:
        mock.add(
            "POST",
            BASE + "/lists/main/batch",
            json={"errors": [{"email_address": "p1@example.org", "error": "p1 is in compliance state"}]},
        )
        mock.add("POST", BASE + "/lists/main/batch", json={"errors": []})
        results = list(connector.write("consents", records))
        bodies = [json.loads(call.request.body) for call in mock.calls]
    assert [len(body["members"]) for body in bodies] == [2, 1]  # the batch_size setting (2) under the declared 50
    assert bodies[0] == {
        "update_existing": True,
        "members": [
            {"email_address": "p0@example.org", "status": "unsubscribed"},
            {"email_address": "p1@example.org", "status": "unsubscribed"},
        ],
    }
    assert bodies[1]["members"][0]["status"] == "subscribed"
    assert [(r.record_key, r.status, r.error) for r in results] == [
        ("k0", "applied", None),
        ("k1", "failed", "p1 is in compliance state"),
        ("k2", "applied", None),
    ]


def test_a_wrong_declaration_is_refused_naming_each_path(tmp_path: Path) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(
        DECLARATION.replace("records_path: people", "records_pth: people").replace("kind: offset", "kind: offst"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        declarative_connector(path)
    text = str(refused.value)
    assert "connector.yaml.streams.0.records_pth: unknown key (did you mean 'records_path'?)" in text
    assert "connector.yaml.streams.0.paginator.kind" in text
