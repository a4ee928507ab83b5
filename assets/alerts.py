"""Alert sensors: a failed Canalis run, and a failed asset check, sent where the `alerts` section says."""

from __future__ import annotations

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from canalis.alerts import Alert, deliver
from canalis.alerts.message import run_url
from canalis.config.alerts import AlertSettings

RUN_FAILURE_SENSOR = "canalis_run_failure_alerts"
CHECK_FAILURE_SENSOR = "canalis_check_failure_alerts"
BATCH = 200


def build_alert_sensors(settings: AlertSettings) -> list[SensorDefinition]:
    """The sensors the settings ask for, running from the start; none when no destination is configured."""
    if not settings.enabled:
        return []
    sensors: list[SensorDefinition] = []
    if settings.run_failures:
        sensors.append(build_run_failure_sensor(settings))
    if settings.check_failures:
        sensors.append(build_check_failure_sensor(settings))
    return sensors


def run_failure_alert(context: RunFailureSensorContext, settings: AlertSettings) -> Alert:
    """The alert for a failed run: its job, failed steps and error types (no error text)."""
    run = context.dagster_run
    failures = context.get_step_failure_events()
    steps = sorted({event.step_key for event in failures if event.step_key})
    errors = sorted({name for event in failures if (name := error_type(event.step_failure_data.error))})
    if not errors and context.failure_event.job_failure_data is not None:
        name = error_type(context.failure_event.job_failure_data.error)
        errors = [name] if name else []
    origin = run.remote_job_origin
    return Alert(
        kind="run_failure",
        job=run.job_name,
        run_id=run.run_id,
        location=origin.location_name if origin is not None else None,
        failed_steps=steps,
        error_types=errors,
        run_url=run_url(settings.ui_url, run.run_id),
    )


def error_type(error) -> str | None:
    """The class name of the error a step raised, under the wrapper Dagster puts around it."""
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error.cls_name if error is not None else None


def build_run_failure_sensor(settings: AlertSettings) -> SensorDefinition:
    """A sensor sending an alert for each failed run of the code location's jobs."""

    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        minimum_interval_seconds=settings.minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Sends an alert (email, webhook, Slack: the connections file's `alerts`) for each failed run.",
    )
    def _run_failure_alerts(context: RunFailureSensorContext) -> None:
        alert = run_failure_alert(context, settings)
        reached = deliver(alert, settings)
        context.log.info(f"alert for run {alert.run_id} sent to {', '.join(reached)}")

    return _run_failure_alerts


def build_check_failure_sensor(settings: AlertSettings) -> SensorDefinition:
    """A sensor sending an alert for each failed asset check of the chosen severities, from when it starts."""

    @sensor(
        name=CHECK_FAILURE_SENSOR,
        minimum_interval_seconds=settings.minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Sends an alert (email, webhook, Slack: the connections file's `alerts`) for each failed "
        f"asset check of severity {' or '.join(settings.check_severities)}.",
    )
    def _check_failure_alerts(context: SensorEvaluationContext):
        records = check_evaluations(context, after=int(context.cursor) if context.cursor else None)
        if context.cursor is None:  # the first look starts from now: old failures were seen when they happened
            context.update_cursor(str(records[-1].storage_id if records else 0))
            return SkipReason("watching asset checks from now on")
        sent = 0
        for record in records:
            alert = check_failure_alert(record, settings)
            if alert is not None:
                deliver(alert, settings)
                sent += 1
            context.update_cursor(str(record.storage_id))  # a failed delivery is tried again on the next tick
        return SkipReason(f"{sent} alert(s) sent for {len(records)} check evaluation(s)")

    return _check_failure_alerts


def check_evaluations(context: SensorEvaluationContext, after: int | None) -> list:
    """Asset check evaluations after a storage id, oldest first; with none, only the newest one (to start from)."""
    event_filter = EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after)
    if after is None:
        return list(context.instance.get_event_records(event_filter, limit=1, ascending=False))
    return list(context.instance.get_event_records(event_filter, limit=BATCH, ascending=True))


def check_failure_alert(record, settings: AlertSettings) -> Alert | None:
    """The alert for one check evaluation, or None when it passed or its severity is not sent."""
    event = record.event_log_entry.dagster_event
    evaluation = event.event_specific_data
    severity = evaluation.severity.value if evaluation.severity is not None else "ERROR"
    if evaluation.passed or severity not in settings.check_severities:
        return None
    run_id = record.event_log_entry.run_id
    return Alert(
        kind="check_failure",
        job=event.job_name or "",
        run_id=run_id,
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        severity=severity,
        run_url=run_url(settings.ui_url, run_id),
    )
