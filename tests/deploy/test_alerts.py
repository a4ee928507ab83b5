"""Alerts: the `alerts` section fails fast naming the field; failed runs and checks reach a local SMTP sink and a
local HTTP receiver, naming what failed and carrying no data value or error text."""

from __future__ import annotations

import pytest
from alert_receivers import http_receiver, smtp_sink
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
)

from canalis.alerts import Alert, AlertDeliveryError, deliver
from canalis.assets.alerts import (
    CHECK_FAILURE_SENSOR,
    RUN_FAILURE_SENSOR,
    build_alert_sensors,
    build_check_failure_sensor,
    build_run_failure_sensor,
)
from canalis.config.alerts import AlertSettings
from canalis.config.connections import parse_config
from canalis.sdk.errors import ConfigError

PERSONAL = "jane.doe@example.com"


def _settings(smtp_port: int | None = None, webhook: str | None = None, **extra) -> AlertSettings:
    document: dict = dict(extra)
    if smtp_port is not None:
        document["email"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "sender": "canalis@example.org",
            "to": ["ops@example.org"],
        }
    if webhook is not None:
        document["webhook"] = {"url": webhook}
    return AlertSettings.model_validate(document)


@pytest.mark.parametrize(
    ("alerts", "where"),
    [
        ({"email": {"host": "smtp", "port": 70000, "sender": "a@b.org", "to": ["c@d.org"]}}, "alerts.email.port"),
        ({"email": {"host": "smtp", "sender": "not-an-address", "to": ["c@d.org"]}}, "alerts.email.sender"),
        ({"webhook": {"url": "ftp://x"}}, "alerts.webhook.url"),
        ({"webhook": {}}, "alerts.webhook"),
        ({"slack": {"channel": "#ops", "token_env": "lower case"}}, "alerts.slack.token_env"),
        ({"emial": {}}, "alerts.emial"),
    ],
)
def test_a_bad_alerts_section_fails_naming_the_field(alerts: dict, where: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"alerts": alerts})
    assert where in str(raised.value)


def test_an_alert_reaches_the_smtp_sink_and_the_webhook() -> None:
    alert = Alert(
        kind="run_failure", job="incremental_sync", run_id="r1", failed_steps=["canonical"], error_types=["KeyError"]
    )
    with smtp_sink() as (port, messages), http_receiver() as (url, received):
        reached = deliver(alert, _settings(port, url + "/hook"))
    assert reached == ["email", "webhook"]
    assert messages[0]["Subject"] == "[canalis] run of incremental_sync failed"
    assert "failed steps: canonical" in messages[0].get_payload()
    assert received[0]["path"] == "/hook"
    assert received[0]["body"]["failed_steps"] == ["canonical"] and received[0]["body"]["source"] == "canalis"


def test_a_refused_webhook_names_the_system_and_status_but_not_the_url_path(monkeypatch) -> None:
    with http_receiver(status=503) as (url, _):
        monkeypatch.setenv("CANALIS_TEST_HOOK", url + "/T000/secret-token")
        settings = AlertSettings.model_validate({"webhook": {"url_env": "CANALIS_TEST_HOOK"}})
        with pytest.raises(AlertDeliveryError) as raised:
            deliver(Alert(kind="run_failure", job="j", run_id="r"), settings)
    assert "status 503" in str(raised.value) and url in str(raised.value)
    assert "secret-token" not in str(raised.value)


def test_a_missing_secret_variable_is_named() -> None:
    settings = AlertSettings.model_validate({"webhook": {"url_env": "CANALIS_TEST_UNSET_HOOK"}})
    with pytest.raises(AlertDeliveryError, match="CANALIS_TEST_UNSET_HOOK is not set"):
        deliver(Alert(kind="run_failure", job="j", run_id="r"), settings)


def test_slack_without_dagster_slack_says_what_to_install(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dagster_slack", None)
    settings = AlertSettings.model_validate({"slack": {"channel": "#ops"}})
    with pytest.raises(AlertDeliveryError, match="dagster-slack"):
        deliver(Alert(kind="run_failure", job="j", run_id="r"), settings)


def test_no_destination_means_no_sensor() -> None:
    assert build_alert_sensors(AlertSettings()) == []
    names = {sensor.name for sensor in build_alert_sensors(_settings(webhook="http://127.0.0.1:1"))}
    assert names == {RUN_FAILURE_SENSOR, CHECK_FAILURE_SENSOR}


@asset
def failing_customers() -> None:
    raise ValueError(f"customer {PERSONAL} has no id")


@asset(check_specs=[AssetCheckSpec("no_duplicates", asset="checked_customers")])
def checked_customers() -> MaterializeResult:
    return MaterializeResult(
        check_results=[
            AssetCheckResult(
                check_name="no_duplicates", passed=False, severity=AssetCheckSeverity.ERROR, description=PERSONAL
            )
        ]
    )


def test_a_failed_run_is_sent_by_email_and_webhook_without_its_error_text() -> None:
    job = define_asset_job("sync", selection=[failing_customers])
    defs = Definitions(assets=[failing_customers], jobs=[job])
    with DagsterInstance.ephemeral() as instance, smtp_sink() as (port, messages), http_receiver() as (url, received):
        result = defs.resolve_job_def("sync").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        settings = _settings(port, url, ui_url="http://dagster.internal:3000")
        sensor = build_run_failure_sensor(settings)
        context = build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR, dagster_instance=instance, dagster_run=run, dagster_event=failure
        ).for_run_failure()
        sensor(context)
    body = received[0]["body"]
    assert body["kind"] == "run_failure" and body["job"] == "sync" and body["run_id"] == result.run_id
    assert body["failed_steps"] == ["failing_customers"] and body["error_types"] == ["ValueError"]
    assert body["run_url"] == f"http://dagster.internal:3000/runs/{result.run_id}"
    text = messages[0].get_payload()
    assert "failing_customers" in text
    assert PERSONAL not in text and PERSONAL not in str(body)


def test_a_failed_check_is_sent_once_from_when_the_sensor_starts() -> None:
    with DagsterInstance.ephemeral() as instance, http_receiver() as (url, received):
        settings = _settings(webhook=url)
        sensor = build_check_failure_sensor(settings)
        job = define_asset_job("checks", selection=[checked_customers])
        defs = Definitions(assets=[checked_customers], jobs=[job])
        defs.resolve_job_def("checks").execute_in_process(instance=instance)  # before the sensor: not sent
        first = build_sensor_context(instance=instance, sensor_name=CHECK_FAILURE_SENSOR)
        sensor(first)
        assert received == [] and first.cursor is not None
        result = defs.resolve_job_def("checks").execute_in_process(instance=instance)
        second = build_sensor_context(instance=instance, sensor_name=CHECK_FAILURE_SENSOR, cursor=first.cursor)
        sensor(second)
        third = build_sensor_context(instance=instance, sensor_name=CHECK_FAILURE_SENSOR, cursor=second.cursor)
        sensor(third)
    assert len(received) == 1
    body = received[0]["body"]
    assert body["kind"] == "check_failure" and body["check"] == "no_duplicates" and body["asset"] == "checked_customers"
    assert body["severity"] == "ERROR" and body["run_id"] == result.run_id
    assert PERSONAL not in str(body)


def test_a_warning_check_is_not_sent_unless_asked() -> None:
    from canalis.assets.alerts import check_failure_alert

    class Evaluation:
        passed = False
        severity = AssetCheckSeverity.WARN
        check_name = "freshness"

        class asset_key:
            @staticmethod
            def to_user_string() -> str:
                return "a"

    class Entry:
        run_id = "r"

        class dagster_event:
            job_name = "j"
            event_specific_data = Evaluation

    assert check_failure_alert(Entry, _settings(webhook="http://x.org")) is None
    alert = check_failure_alert(Entry, _settings(webhook="http://x.org", check_severities=["ERROR", "WARN"]))
    assert alert is not None and alert.severity == "WARN"


def test_the_component_takes_an_alerts_section(tmp_path) -> None:
    from canalis.assets.component import CanalisComponent

    component = CanalisComponent(alerts={"webhook": {"url": "http://127.0.0.1:1/hook"}, "check_failures": False})
    config = component.canalis_config(tmp_path)
    assert config.alerts.enabled and not config.alerts.check_failures
    assert [sensor.name for sensor in build_alert_sensors(config.alerts)] == [RUN_FAILURE_SENSOR]
    with pytest.raises(ConfigError, match=r"alerts\.webhook\.url"):
        CanalisComponent(alerts={"webhook": {"url": "nope"}}).canalis_config(tmp_path)
