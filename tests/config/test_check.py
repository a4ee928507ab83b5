"""`canalis check` finds every problem of a connections file, each named by its path, without reading any data."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from canalis.cli.main import main
from canalis.config.check import check_config
from canalis.config.connections import load_config
from canalis.connectors.registry import RegisteredConnector, discover
from canalis.sdk import CheckResult, Connector, ConnectorSettings, Page, Stream, WriteOnlyStream, setting
from canalis.sdk.errors import ConfigError


class ShopSettings(ConnectorSettings):
    base_url: str = setting(description="API root")
    token: SecretStr = setting(description="API token", env="CANALIS_TEST_SHOP_TOKEN", secret=True)


class People(Stream):
    name = "people"
    primary_key = "id"
    field_paths = ("id", "email", "name.given", "name.family", "tags.*")


class Prices(WriteOnlyStream):
    name = "prices"


class ShopConnector(Connector):
    """A connector that reads nothing: checks must never call it."""

    name = "test_shop"
    kind = "ecommerce"
    settings_model = ShopSettings
    streams = (People, Prices)
    default_mapping = None

    def check(self) -> CheckResult:
        raise AssertionError("canalis check must not contact a system")

    def read_pages(self, stream, state):  # pragma: no cover - never called
        raise AssertionError("canalis check must not read data")
        yield Page(records=[], state=state)


MAPPING = {
    "mapping": "test_shop",
    "connector": "test_shop",
    "streams": {
        "people": {
            "targets": [
                {
                    "entity": "customer_record",
                    "fields": {
                        "source_id": "id",
                        "email": {"from": "email", "transforms": ["email"]},
                        "given_name": "name.given",
                        "family_name": "name.family",
                    },
                }
            ]
        }
    },
}


@pytest.fixture
def registry() -> dict[str, RegisteredConnector]:
    return {**discover(include_plugins=False), "test_shop": RegisteredConnector(ShopConnector, "tests")}


def _write(folder: Path, document: dict, mapping: dict | None = None) -> Path:
    (folder / "mappings").mkdir(exist_ok=True)
    (folder / "mappings" / "shop.yaml").write_text(yaml.safe_dump(mapping or MAPPING), encoding="utf-8")
    path = folder / "canalis.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _good() -> dict:
    return {
        "connections": {
            "web_shop": {
                "connector": "test_shop",
                "channel": "web",
                "mapping": "mappings/shop.yaml",
                "settings": {"base_url": "https://shop.example", "token": {"env": "SHOP_TOKEN"}},
                "streams": ["people"],
            },
            "web_export": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}},
        },
        "publish": {"channels": {"web_shop": {"publish": ["prices"]}}},
    }


ENV = {"SHOP_TOKEN": "not-a-real-token"}


def test_a_good_file_has_no_problem_and_mapping_paths_resolve_from_its_folder(
    tmp_path: Path, registry, monkeypatch
) -> None:
    monkeypatch.chdir(Path("/"))  # the mapping path is relative to the file, not to the working directory
    report = check_config(_write(tmp_path, _good()), registry=registry, environ=ENV)
    assert report.problems == []
    summaries = {summary.name: summary for summary in report.connections}
    assert summaries["web_shop"].mapping == tmp_path / "mappings" / "shop.yaml"
    assert summaries["web_export"].mapping.name == "mapping.yaml"


def _mutated(change) -> dict:
    document = _good()
    change(document)
    return document


def _shop(document: dict) -> dict:
    return document["connections"]["web_shop"]


CASES = [
    (
        lambda d: _shop(d).update(connector="test_shopp"),
        "connections.web_shop.connector",
        "unknown connector 'test_shopp' (did you mean 'test_shop'?)",
    ),
    (
        lambda d: _shop(d)["settings"].update(base_ur="x"),
        "connections.web_shop.settings.base_ur",
        "unknown setting (did you mean 'base_url'?)",
    ),
    (
        lambda d: d.update(identity={"max_clustr_size": 10}),
        "identity.max_clustr_size",
        "did you mean 'max_cluster_size'",
    ),
    (lambda d: d.update(quality={"max_quarantine_shar": 0.1}), "quality.max_quarantine_shar", "unknown key"),
    (
        lambda d: d["publish"]["channels"]["web_shop"].update(roundng=0.05),
        "publish.channels.web_shop.roundng",
        "did you mean 'rounding'?",
    ),
    (lambda d: d.update(consistency={"disabled_rule": []}), "consistency.disabled_rule", "did you mean"),
    (lambda d: d.update(kpis={"ropo_window_day": 3}), "kpis.ropo_window_day", "did you mean 'ropo_window_days'"),
    (lambda d: _shop(d).update(mapping="mappings/nowhere.yaml"), "connections.web_shop.mapping", "not found"),
    (
        lambda d: _shop(d).update(mapping="variant_it_does_not_ship"),
        "connections.web_shop.mapping",
        "mapping_variant_it_does_not_ship.yaml not found",
    ),
    (lambda d: _shop(d).update(streams=["people", "orders"]), "connections.web_shop.streams.1", "no stream 'orders'"),
    (lambda d: _shop(d)["settings"].update(token={"env": "UNSET_TOKEN"}), "connections.web_shop.settings.token", ""),
    (lambda d: _shop(d)["settings"].pop("token"), "connections.web_shop.settings.token", "CANALIS_TEST_SHOP_TOKEN"),
    (
        lambda d: d["publish"]["channels"].update(web_shoop={}),
        "publish.channels.web_shoop",
        "not an enabled connection (did you mean 'web_shop'?)",
    ),
    (lambda d: d["publish"].update(systems_of_record={"prices": "erp"}), "publish.systems_of_record.prices", ""),
    (
        lambda d: d["publish"]["channels"]["web_shop"].update(publish=["prices", "consents"]),
        "publish.channels.web_shop.publish",
        "cannot write consents",
    ),
]


@pytest.mark.parametrize(("change", "where", "message"), CASES, ids=[case[1] for case in CASES])
def test_each_problem_is_named_by_its_path(tmp_path: Path, registry, change, where, message) -> None:
    report = check_config(_write(tmp_path, _mutated(change)), registry=registry, environ=ENV)
    assert [problem.where for problem in report.problems] == [where]
    assert message in report.problems[0].message
    if where.startswith("connections."):
        assert report.problems[0].connection == "web_shop"


def _mapping_with(path: str) -> dict:
    mapping = json.loads(json.dumps(MAPPING))
    mapping["streams"]["people"]["targets"][0]["fields"]["given_name"] = path
    return mapping


def test_a_mapping_reading_an_undeclared_field_or_stream(tmp_path: Path, registry) -> None:
    report = check_config(_write(tmp_path, _good(), _mapping_with("name.givn")), registry=registry, environ=ENV)
    (problem,) = report.problems
    assert problem.where == "connections.web_shop.mapping"
    assert "streams.people.targets.0.fields.given_name" in problem.message
    assert "declares no field 'name.givn' (did you mean 'name.given'?)" in problem.message

    open_map = check_config(_write(tmp_path, _good(), _mapping_with("tags.vip")), registry=registry, environ=ENV)
    assert open_map.problems == []  # under a declared `tags.*`

    mapping = json.loads(json.dumps(MAPPING))
    mapping["streams"]["customers"] = mapping["streams"].pop("people")
    report = check_config(_write(tmp_path, _good(), mapping), registry=registry, environ=ENV)
    assert "streams.customers: connector 'test_shop' declares no such stream" in report.problems[0].message

    mapping = {**MAPPING, "connector": "hubspot"}
    report = check_config(_write(tmp_path, _good(), mapping), registry=registry, environ=ENV)
    assert "written for connector 'hubspot', not 'test_shop'" in report.problems[0].message


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path, registry) -> None:
    def many(document: dict) -> None:
        _shop(document)["settings"].update(base_ur="x")
        document["connections"]["web_export"]["connector"] = "filedrop"
        document.update(kpis={"ropo_window_day": 3}, quality={"max_quarantine_share": 2})

    report = check_config(_write(tmp_path, _mutated(many)), registry=registry, environ=ENV)
    assert sorted(problem.where for problem in report.problems) == [
        "connections.web_export.connector",
        "connections.web_shop.settings.base_ur",
        "kpis.ropo_window_day",
        "quality.max_quarantine_share",
    ]


def test_a_broken_file_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "canalis.yaml"
    path.write_text("connections: [oops\n", encoding="utf-8")
    report = check_config(path)
    assert len(report.problems) == 1 and "not valid YAML" in report.problems[0].message
    path.write_text("- a list\n", encoding="utf-8")
    assert "must be a mapping of sections" in check_config(path).problems[0].message


def test_loading_refuses_a_misspelt_section_key(tmp_path: Path) -> None:
    path = tmp_path / "canalis.yaml"
    path.write_text("quality:\n  max_quarantine_shar: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"quality\.max_quarantine_shar: unknown key"):
        load_config(path)


def test_one_cluster_size_limit_for_the_engine_and_its_check(tmp_path: Path) -> None:
    from canalis.assets.build import build_definitions

    path = tmp_path / "canalis.yaml"
    path.write_text(
        textwrap.dedent(
            """
            connections:
              web: {connector: file_drop, channel: web, settings: {path: "sample:web_shop"}}
            identity: {max_cluster_size: 7}
            """
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.identity.max_cluster_size == 7
    defs = build_definitions(config)
    check = next(
        spec for checks in defs.asset_checks or [] for spec in checks.check_specs if spec.name == "cluster_size_alarm"
    )
    assert "more than 7 source records" in (check.description or "")


def test_the_cli_prints_every_problem_and_fails(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated_home / "canalis.yaml").write_text(
        "connections:\n  web:\n    connector: file_drop\n    channel: web\n    settings: {pth: x}\n"
        "kpis: {windows: 3}\n",
        encoding="utf-8",
    )
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "connections.web.settings.pth: unknown setting (did you mean 'path'?)" in out
    assert "connections.web.settings.path: required setting is missing" in out
    assert "kpis.windows: unknown key" in out
    assert main(["check", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert not document["ok"] and len(document["problems"]) == 3


def test_run_starts_nothing_when_the_file_has_a_problem(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(isolated_home))
    (isolated_home / "canalis.yaml").write_text(
        "connections:\n  web:\n    connector: file_drop\n    channel: web\n    settings: {path: 'sample:web_shop'}\n"
        "quality: {max_quarantine_shar: 0.1}\n",
        encoding="utf-8",
    )
    assert main(["run", "incremental_sync"]) == 2
    err = capsys.readouterr().err
    assert "quality.max_quarantine_shar" in err and "no run started" in err
    assert not (isolated_home / "storage").exists()  # no Dagster run was recorded


def test_the_demo_connections_file_checks_clean(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "dagster_home" / "canalis.yaml"
    assert main(["check", "--config", str(demo)]) == 0, capsys.readouterr().out
