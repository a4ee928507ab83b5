"""The Odoo emulator: Python's own xmlrpc.client unchanged, JSON-RPC and JSON-2 shapes, domains, paging, faults."""

from __future__ import annotations

import os
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

import canalis.sandbox.server.app as sandbox_app
from canalis.sandbox.emulators.odoo import API_KEY, DATABASE, LOGIN, PASSWORD, OdooEmulator
from canalis.sandbox.emulators.odoo.domain import FieldValue, evaluate, match_leaf, parse_domain
from canalis.sandbox.emulators.odoo.emulator import VERSION_KEY
from canalis.sandbox.emulators.odoo.errors import OdooValueError
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path

SYSTEM = "odoo"
SPEC = Path("/work/shared/specs/odoo/external-api-call-shapes.yaml")


def serve_world(data_dir: Path) -> None:
    """Make the generated world the sandbox's store (the runner opens sandbox.db, the generator writes world.db)."""
    sandbox_db = data_dir / "sandbox.db"
    if not sandbox_db.exists():
        os.link(store_path(data_dir), sandbox_db)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("odoo-world")
    generate_world(WorldSpec(seed=5, customers=120), data_dir)
    serve_world(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def server(world_dir: Path) -> Iterator[SandboxServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])  # other vendors stay out
        with SandboxServer(world_dir) as running:
            yield running


@pytest.fixture
def base(server: SandboxServer) -> str:
    return server.url("odoo")


@pytest.fixture
def store(server: SandboxServer) -> Iterator[ObjectStore]:
    assert server.store is not None
    yield server.store
    server.store.kv_delete(VERSION_KEY)


@pytest.fixture
def models(base: str) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/object", allow_none=True)


@pytest.fixture
def uid(base: str) -> int:
    common = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/common")
    return common.authenticate(DATABASE, LOGIN, PASSWORD, {})


def execute(models: xmlrpc.client.ServerProxy, uid: int, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return models.execute_kw(DATABASE, uid, PASSWORD, model, method, list(args), kwargs)


def json2(base: str, model: str, method: str, body: dict[str, Any], key: str = API_KEY) -> requests.Response:
    headers = {"Authorization": f"bearer {key}", "X-Odoo-Database": DATABASE}
    return requests.post(f"{base}/json/2/{model}/{method}", json=body, headers=headers, timeout=10)


def jsonrpc(base: str, service: str, method: str, *args: Any) -> dict[str, Any]:
    payload = {"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": list(args)}}
    response = requests.post(f"{base}/jsonrpc", json={**payload, "id": 7}, timeout=10)
    assert response.status_code == 200
    return response.json()


def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"vendor description {SPEC} not available")
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def object_schema(example: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema requiring every key of a documented example, with the example's value types."""
    kinds = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
    properties = {key: {"type": kinds.get(type(value), "string")} for key, value in example.items()}
    return {"type": "object", "required": sorted(example), "properties": properties}


# -- XML-RPC with the standard library client -----------------------------------------------------------------


def test_common_version_and_authenticate(base: str, store: ObjectStore) -> None:
    common = xmlrpc.client.ServerProxy(f"{base}/xmlrpc/2/common")
    version = common.version()
    assert version["server_version"] == "19.0"
    assert version["server_version_info"][:2] == [19, 0]
    assert set(spec()["xmlrpc"]["common_service"]["version"]["result_example"]) <= set(version)
    assert common.authenticate(DATABASE, LOGIN, PASSWORD, {}) == 2
    assert common.authenticate(DATABASE, LOGIN, API_KEY, {}) == 2
    assert common.authenticate(DATABASE, LOGIN, "wrong", {}) is False
    store.kv_put(VERSION_KEY, "17.0")
    assert common.version()["server_version_info"][0] == 17


def test_orm_calls_of_the_documentation(models: xmlrpc.client.ServerProxy, uid: int, store: ObjectStore) -> None:
    persons = [["is_company", "=", False]]
    ids = execute(models, uid, "res.partner", "search", persons)
    total = sum(1 for stored in store.iter_all(SYSTEM, "res.partner") if not stored.payload["is_company"])
    assert len(ids) == total == execute(models, uid, "res.partner", "search_count", persons)
    assert execute(models, uid, "res.partner", "search", persons, offset=2, limit=3) == ids[2:5]
    [record] = execute(models, uid, "res.partner", "read", [ids[0]], fields=["name", "country_id", "comment_x"][:2])
    assert set(record) == {"id", "name", "country_id"}
    assert record["country_id"] is False or (isinstance(record["country_id"], list) and len(record["country_id"]) == 2)
    rows = execute(models, uid, "res.partner", "search_read", persons, fields=["name"], limit=5)
    assert [row["id"] for row in rows] == ids[:5]
    described = execute(models, uid, "res.partner", "fields_get", attributes=["string", "help", "type"])
    assert described["email"] == {"type": "char", "string": "Email", "help": ""}
    assert described["country_id"]["type"] == "many2one"
    assert execute(models, uid, "res.partner", "name_search", rows[0]["name"], limit=10)[0][0] == rows[0]["id"]


def test_create_write_unlink_bump_write_date(models: xmlrpc.client.ServerProxy, uid: int, store: ObjectStore) -> None:
    newest = max(stored.updated_at for stored in store.iter_all(SYSTEM, "res.partner"))
    new_id = execute(models, uid, "res.partner", "create", {"name": "New Partner", "country_id": 75})
    assert isinstance(new_id, int)
    [created] = execute(models, uid, "res.partner", "read", [new_id], ["name", "country_id", "email", "write_date"])
    assert created["name"] == "New Partner" and created["email"] is False
    assert created["country_id"] == [75, "France"]
    assert execute(models, uid, "res.partner", "write", [new_id], {"name": "Newer partner"}) is True
    stored = store.get_object(SYSTEM, "res.partner", str(new_id))
    assert stored is not None and stored.updated_at > newest
    later = execute(models, uid, "res.partner", "search", [["write_date", ">", newest[:19].replace("T", " ")]])
    assert new_id in later
    assert execute(models, uid, "res.partner", "unlink", [new_id]) is True
    with pytest.raises(xmlrpc.client.Fault) as missing:
        execute(models, uid, "res.partner", "read", [new_id], ["name"])
    assert missing.value.faultCode == 2 and "does not exist" in missing.value.faultString


def test_faults_follow_odoo_codes(base: str, models: xmlrpc.client.ServerProxy, uid: int) -> None:
    codes = spec()["xmlrpc_faults"]["fault_codes"]
    with pytest.raises(xmlrpc.client.Fault) as denied:
        models.execute_kw(DATABASE, uid, "wrong", "res.partner", "search", [[]])
    assert denied.value.faultCode == 3 and "AccessDenied" in codes[3]
    with pytest.raises(xmlrpc.client.Fault) as private:
        execute(models, uid, "res.partner", "_compute_display_name")
    assert private.value.faultCode == 4
    with pytest.raises(xmlrpc.client.Fault) as unknown_field:
        execute(models, uid, "res.partner", "search_read", [], fields=["nope"])
    assert unknown_field.value.faultCode == 1 and "Invalid field 'nope'" in unknown_field.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as unknown_model:
        execute(models, uid, "x.nothing", "search", [])
    assert unknown_model.value.faultCode == 2
    with pytest.raises(xmlrpc.client.Fault) as bad_domain:
        execute(models, uid, "res.partner", "search", ["|", ["id", "=", 1]])
    assert bad_domain.value.faultCode == 1


def test_order_and_keyset_paging_on_write_date(models: xmlrpc.client.ServerProxy, uid: int, store: ObjectStore) -> None:
    order = "write_date asc, id asc"
    everything = execute(models, uid, "stock.quant", "search_read", [], fields=["write_date"], order=order)
    expected = [
        int(s.object_id)
        for s in sorted(store.iter_all(SYSTEM, "stock.quant"), key=lambda s: (s.updated_at, int(s.object_id)))
    ]
    assert [row["id"] for row in everything] == expected
    pages: list[int] = []
    offset = 0
    while page := execute(models, uid, "stock.quant", "search", [], offset=offset, limit=97, order=order):
        pages += page
        offset += len(page)
    assert pages == expected
    middle = everything[len(everything) // 2]["write_date"]
    after = execute(models, uid, "stock.quant", "search_count", [["write_date", ">=", middle]])
    assert after == sum(1 for row in everything if row["write_date"] >= middle)


def test_keyset_pages_with_a_floor_and_a_filter_stop_at_the_limit_in_order(
    models: xmlrpc.client.ServerProxy, uid: int, store: ObjectStore
) -> None:
    order = "write_date asc, id asc"
    stored = sorted(store.iter_all(SYSTEM, "stock.quant"), key=lambda s: (s.updated_at, int(s.object_id)))
    floor = stored[len(stored) // 3].updated_at.replace("T", " ")[:19]
    domain = [["write_date", ">=", floor], ["quantity", ">", 5]]
    wanted = [
        int(s.object_id)
        for s in stored
        if s.updated_at.replace("T", " ")[:19] >= floor and (s.payload.get("quantity") or 0) > 5
    ]
    assert len(wanted) > 7  # the world holds enough quants for two pages past the floor
    first = execute(models, uid, "stock.quant", "search", domain, limit=5, order=order)
    rest = execute(models, uid, "stock.quant", "search", domain, offset=5, order=order)
    assert first + rest == wanted and len(first) == 5
    descending = execute(models, uid, "stock.quant", "search", domain, limit=5, order="write_date desc, id desc")
    assert descending == wanted[::-1][:5]


def test_dotted_many2one_paths(models: xmlrpc.client.ServerProxy, uid: int, store: ObjectStore) -> None:
    internal = execute(models, uid, "stock.quant", "search_count", [["location_id.usage", "=", "internal"]])
    assert internal == store.count(SYSTEM, "stock.quant")
    assert execute(models, uid, "stock.quant", "search_count", [["location_id.usage", "=", "customer"]]) == 0


def test_sub_second_write_dates_order_like_the_database(server: SandboxServer, store: ObjectStore) -> None:
    for object_id, stamp in (("9001", "2030-01-01T00:00:00.900Z"), ("9002", "2030-01-01T00:00:00.100Z")):
        payload = {
            "id": int(object_id),
            "email": f"{object_id}@example.org",
            "active": True,
            "write_date": "2030-01-01 00:00:00",
            "create_date": "2030-01-01 00:00:00",
        }
        store.put(SYSTEM, "mail.blacklist", object_id, payload, updated_at=stamp)
    try:
        models = xmlrpc.client.ServerProxy(f"{server.url('odoo')}/xmlrpc/2/object")
        domain = [["write_date", ">=", "2030-01-01 00:00:00"]]
        ids = models.execute_kw(
            DATABASE, 2, PASSWORD, "mail.blacklist", "search", [domain], {"order": "write_date, id"}
        )
        assert ids == [9002, 9001]  # both read as the same second, ordered by the stored microseconds
        beyond = [["write_date", ">", "2030-01-01 00:00:00"]]
        assert models.execute_kw(DATABASE, 2, PASSWORD, "mail.blacklist", "search_count", [beyond]) == 2
    finally:
        store.delete(SYSTEM, "mail.blacklist", "9001")
        store.delete(SYSTEM, "mail.blacklist", "9002")


# -- JSON-RPC -------------------------------------------------------------------------------------------------


def test_jsonrpc_envelope_and_error_body(base: str) -> None:
    documented = spec()["jsonrpc"]
    ok = jsonrpc(
        base,
        "object",
        "execute_kw",
        DATABASE,
        2,
        API_KEY,
        "res.partner",
        "search_read",
        [[["is_company", "=", True]]],
        {"fields": ["name"], "limit": 5},
    )
    assert set(documented["success_response"]) == set(ok) and ok["id"] == 7
    assert ok["result"] and set(ok["result"][0]) == {"id", "name"}
    failed = jsonrpc(base, "object", "execute_kw", DATABASE, 2, "wrong", "res.partner", "search", [[]])
    jsonschema.validate(failed, object_schema(documented["error_response"]["body"]))
    jsonschema.validate(failed["error"]["data"], object_schema(documented["error_response"]["body"]["error"]["data"]))
    assert failed["error"]["code"] == 200 and failed["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert jsonrpc(base, "common", "authenticate", DATABASE, LOGIN, PASSWORD, {})["result"] == 2


# -- JSON-2 ---------------------------------------------------------------------------------------------------


def test_json2_named_arguments(base: str, store: ObjectStore) -> None:
    body = {
        "context": {"lang": "en_US"},
        "domain": [["is_company", "=", False]],
        "fields": ["name"],
        "limit": 3,
        "offset": 1,
        "order": "id asc",
    }
    response = json2(base, "res.partner", "search_read", body)
    assert response.status_code == 200
    ids = sorted(int(s.object_id) for s in store.iter_all(SYSTEM, "res.partner") if not s.payload["is_company"])
    assert [row["id"] for row in response.json()] == ids[1:4]
    read = json2(base, "res.partner", "read", {"ids": ids[:2], "fields": ["email"]}).json()
    assert [row["id"] for row in read] == ids[:2]
    created = json2(base, "mail.blacklist", "create", {"vals_list": [{"email": "JSON2@Example.org"}]}).json()
    assert isinstance(created, list) and len(created) == 1
    assert json2(base, "mail.blacklist", "write", {"ids": created, "vals": {"active": False}}).json() is True
    archived = json2(base, "mail.blacklist", "search_read", {"domain": [["id", "in", created]], "fields": ["email"]})
    assert archived.json() == []  # archived records are hidden unless active_test is false
    every = json2(
        base,
        "mail.blacklist",
        "search_read",
        {"domain": [["id", "in", created]], "fields": ["email", "active"], "context": {"active_test": False}},
    )
    assert every.json() == [{"id": created[0], "email": "json2@example.org", "active": False}]
    assert json2(base, "mail.blacklist", "unlink", {"ids": created}).json() is True


def test_json2_errors_have_documented_shape_and_status(base: str, store: ObjectStore) -> None:
    example = spec()["json2_api"]["error_response"]["body_example"]
    schema = object_schema(example)
    cases = [
        (json2(base, "res.partner", "search_read", {}, key="wrong"), 401, "werkzeug.exceptions.Unauthorized"),
        (json2(base, "res.partner", "search_read", {"fields": ["nope"]}), 422, "builtins.ValueError"),
        (json2(base, "res.partner", "search_read", {"bogus": 1}), 422, "builtins.TypeError"),
        (json2(base, "x.nothing", "search", {}), 404, "odoo.exceptions.UserError"),
        (json2(base, "res.partner", "_private", {}), 403, "odoo.exceptions.AccessError"),
        (
            json2(base, "res.partner", "read", {"ids": [999999], "fields": ["name"]}),
            404,
            "odoo.exceptions.MissingError",
        ),
    ]
    for response, status, name in cases:
        assert response.status_code == status, response.text
        jsonschema.validate(response.json(), schema)
        assert response.json()["name"] == name
    assert response.json()["message"] == response.json()["arguments"][0]
    unauthorised = requests.post(f"{base}/json/2/res.partner/search_read", json={}, timeout=10)
    assert unauthorised.status_code == 401 and unauthorised.json()["message"] == "Invalid apikey"
    store.kv_put(VERSION_KEY, "17.0")
    assert json2(base, "res.partner", "search_read", {}).status_code == 404  # no JSON-2 API before 19.0


def test_web_version_reports_configured_version(base: str, store: ObjectStore) -> None:
    assert requests.get(f"{base}/web/version", timeout=10).json()["version_info"][0] == 19
    store.kv_put(VERSION_KEY, "17.0")
    assert requests.get(f"{base}/web/version", timeout=10).json()["version"] == "17.0"


# -- faults ---------------------------------------------------------------------------------------------------


def test_rate_limit_and_server_errors(world_dir: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])
        with SandboxServer(world_dir, faults="odoo:429=1") as throttled:
            response = json2(throttled.url("odoo"), "res.partner", "search_count", {})
            assert response.status_code == 429 and response.headers["Retry-After"] == "1"
            jsonschema.validate(response.json(), object_schema(spec()["json2_api"]["error_response"]["body_example"]))
            with pytest.raises(xmlrpc.client.ProtocolError) as error:
                xmlrpc.client.ServerProxy(f"{throttled.url('odoo')}/xmlrpc/2/common").version()
            assert error.value.errcode == 429
        with SandboxServer(world_dir, faults="odoo:503=1") as failing:
            assert json2(failing.url("odoo"), "res.partner", "search_count", {}).status_code == 503


def test_malformed_records_are_corrupted_but_keep_their_keys(world_dir: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])
        with SandboxServer(world_dir, faults="odoo:malformed=1") as broken:
            rows = json2(
                broken.url("odoo"),
                "product.product",
                "search_read",
                {"fields": ["default_code", "categ_id", "write_date"], "limit": 3},
            ).json()
    assert len(rows) == 3
    for row in rows:
        assert isinstance(row["id"], int) and isinstance(row["write_date"], str)
        assert row["categ_id"] == "#corrupt" and isinstance(row["default_code"], dict)


# -- the domain evaluator -------------------------------------------------------------------------------------


def read_plain(record: dict[str, Any], name: str) -> FieldValue:
    types = {"name": "char", "qty": "float", "partner_id": "many2one", "active": "boolean", "tag_ids": "many2many"}
    return FieldValue(types[name], record.get(name, False))


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ([], [1, 2, 3, 4]),
        ([["qty", ">", 1]], [2, 3]),
        ([["qty", ">=", 1], ["qty", "<", 5]], [1, 2]),
        (["|", ["qty", "=", 0], ["name", "=", "Gamma"]], [3, 4]),
        (["!", ["name", "ilike", "al"]], [2, 3, 4]),
        (["&", "|", ["qty", "=", 1], ["qty", "=", 10], ["active", "=", True]], [1]),
        ([["name", "like", "a"]], [1, 2, 3]),
        ([["name", "=like", "A%"]], [1]),
        ([["name", "=ilike", "a%"]], [1]),
        ([["name", "not ilike", "mm"]], [1, 2, 4]),
        ([["name", "=", False]], [4]),
        ([["name", "!=", False]], [1, 2, 3]),
        ([["name", "in", ["Beta", "Gamma"]]], [2, 3]),
        ([["name", "not in", ["Beta", False]]], [1, 3]),
        ([["partner_id", "=", 7]], [1, 3]),
        ([["partner_id", "in", [8]]], [2]),
        ([["partner_id", "=", False]], [4]),
        ([["partner_id", "ilike", "acme"]], [1, 3]),
        ([["tag_ids", "in", [5]]], [2]),
        ([[1, "=", 1]], [1, 2, 3, 4]),
        ([[0, "=", 1]], []),
    ],
)
def test_domain_evaluation(domain: list[Any], expected: list[int]) -> None:
    records = [
        {"id": 1, "name": "Alpha", "qty": 1.0, "partner_id": [7, "Acme"], "active": True, "tag_ids": []},
        {"id": 2, "name": "Beta", "qty": 2.0, "partner_id": [8, "Other"], "active": False, "tag_ids": [5]},
        {"id": 3, "name": "Gamma", "qty": 10.0, "partner_id": [7, "Acme"], "active": False, "tag_ids": [6]},
        {"id": 4, "name": False, "qty": 0.0, "partner_id": False, "active": True, "tag_ids": []},
    ]
    node = parse_domain(domain)
    assert [record["id"] for record in records if evaluate(node, record, read_plain)] == expected


@pytest.mark.parametrize("domain", [["|", ["a", "=", 1]], [["a", "~", 1]], [["a", "="]], "not a list", ["&"]])
def test_malformed_domains_are_refused(domain: Any) -> None:
    with pytest.raises(OdooValueError):
        parse_domain(domain)


def test_datetime_leaves_compare_as_moments() -> None:
    stored = FieldValue("datetime", "2026-01-05 10:00:00.500")
    assert match_leaf(stored, ">", "2026-01-05 10:00:00")
    assert not match_leaf(stored, "<", "2026-01-05 10:00:00")
    assert match_leaf(stored, ">=", "2026-01-05")
    with pytest.raises(OdooValueError):
        match_leaf(stored, ">", "yesterday")
