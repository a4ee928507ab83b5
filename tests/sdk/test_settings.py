"""Connector settings fail fast naming the setting, read secrets only from the environment, and never leak them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from canalis.sdk.errors import ConfigError
from canalis.sdk.settings import ConnectorSettings, describe_settings, load_settings, setting


class DemoSettings(ConnectorSettings):
    base_url: str = setting(description="API base URL", env="CANALIS_DEMO_BASE_URL")
    token: SecretStr = setting(description="API token", env="CANALIS_DEMO_TOKEN", secret=True)
    page_size: int = setting(100, description="records per page", gt=0, le=500)


def test_missing_setting_names_it_and_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(DemoSettings, {"base_url": "https://api.example"}, connection="crm", environ={})
    message = str(caught.value)
    assert message.startswith("connections.crm.settings.token:")
    assert "CANALIS_DEMO_TOKEN" in message
    assert caught.value.setting == "token" and caught.value.connection == "crm"


def test_secret_comes_from_environment_and_stays_hidden() -> None:
    settings = load_settings(
        DemoSettings,
        {"base_url": "https://api.example"},
        connection="crm",
        environ={"CANALIS_DEMO_TOKEN": "s3cr3t-tok"},
    )
    assert settings.token.get_secret_value() == "s3cr3t-tok"
    assert "s3cr3t-tok" not in repr(settings)
    assert "s3cr3t-tok" not in str(settings.model_dump())


def test_secret_value_in_the_connections_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="must come from an environment variable") as caught:
        load_settings(DemoSettings, {"base_url": "x", "token": "pasted-secret"}, connection="crm", environ={})
    assert "pasted-secret" not in str(caught.value)


def test_env_reference_and_interpolation() -> None:
    environ = {"MY_TOKEN": "abc", "SANDBOX": "http://127.0.0.1:9"}
    settings = load_settings(
        DemoSettings, {"base_url": "${SANDBOX}/demo", "token": {"env": "MY_TOKEN"}}, connection="crm", environ=environ
    )
    assert settings.base_url == "http://127.0.0.1:9/demo"
    assert settings.token.get_secret_value() == "abc"
    with pytest.raises(ConfigError, match=r"\$\{MISSING\}"):
        load_settings(DemoSettings, {"base_url": "${MISSING}/x"}, connection="crm", environ=environ)


def test_invalid_value_names_setting_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match=r"connections\.crm\.settings\.page_size: ") as caught:
        load_settings(
            DemoSettings, {"base_url": "x", "page_size": 9999}, connection="crm", environ={"CANALIS_DEMO_TOKEN": "t"}
        )
    assert "9999" not in str(caught.value)


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"settings\.pagesize: unknown setting \(did you mean 'page_size'\?\)"):
        load_settings(
            DemoSettings, {"base_url": "x", "pagesize": 5}, connection="crm", environ={"CANALIS_DEMO_TOKEN": "t"}
        )


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(DemoSettings, {"base_urll": "x", "page_size": 0}, connection="crm", environ={})
    where = [problem.where for problem in caught.value.problems]
    assert where == [
        "connections.crm.settings.base_urll",
        "connections.crm.settings.base_url",
        "connections.crm.settings.token",
        "connections.crm.settings.page_size",
    ]
    assert "4 configuration problems" in str(caught.value)


def test_describe_settings_for_docs() -> None:
    rows = {row.name: row for row in describe_settings(DemoSettings)}
    assert rows["token"].secret and rows["token"].required and rows["token"].env == "CANALIS_DEMO_TOKEN"
    assert rows["page_size"].default == "100" and not rows["page_size"].required
