"""Alert sensors: a failed Canalis run, and a failed asset check, sent where the `alerts` section says."""

from __future__ import annotations

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventLogEntry,
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
        if context.cursor is None:  # the first look starts from now: old failures were seen when they happened
            context.update_cursor(str(context.instance.event_log_storage.get_maximum_record_id() or 0))
            return SkipReason("watching asset checks from now on")
        entries = check_evaluations(context, after=int(context.cursor))
        sent = 0
        for storage_id, entry in entries:
            alert = check_failure_alert(entry, settings)
            if alert is not None:
                deliver(alert, settings)
                sent += 1
            context.update_cursor(str(storage_id))  # a failed delivery is tried again on the next tick
        return SkipReason(f"{sent} alert(s) sent for {len(entries)} check evaluation(s)")

    return _check_failure_alerts


def check_evaluations(context: SensorEvaluationContext, after: int) -> list[tuple[int, EventLogEntry]]:
    """Asset check evaluations stored after a storage id, oldest first, at most BATCH of them.

    Read across all runs by storage id, as Dagster's own daemon reads the events it reacts to.
    """
    entries = context.instance.event_log_storage.get_logs_for_all_runs_by_log_id(
        after_cursor=after, dagster_event_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=BATCH
    )
    return sorted(entries.items())


def check_failure_alert(entry: EventLogEntry, settings: AlertSettings) -> Alert | None:
    """The alert for one check evaluation, or None when it passed or its severity is not sent."""
    event = entry.dagster_event
    evaluation = event.event_specific_data
    severity = evaluation.severity.value if evaluation.severity is not None else "ERROR"
    if evaluation.passed or severity not in settings.check_severities:
        return None
    run_id = entry.run_id
    return Alert(
        kind="check_failure",
        job=event.job_name or "",
        run_id=run_id,
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        severity=severity,
        run_url=run_url(settings.ui_url, run_id),
    )
