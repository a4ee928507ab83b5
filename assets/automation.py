"""Declarative automation: each connection's raw assets on its own cron, everything downstream eager, and a
freshness policy per raw asset from its connection's schedule. The sensor that evaluates them is stopped until
turned on, like the schedule it replaces (turn on one of the two)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    FreshnessPolicy,
)
from dagster._utils.schedules import cron_string_iterator

AUTOMATION_SENSOR = "canalis_automation"


def raw_condition(cron: str) -> AutomationCondition:
    """A connection's raw assets: read on every tick of its schedule."""
    return AutomationCondition.on_cron(cron)


def downstream_condition() -> AutomationCondition:
    """Canonical tables, unified customers, checks and plans: as soon as what they read was updated."""
    return AutomationCondition.eager()


def cron_period(cron: str) -> timedelta:
    """The longest gap between two ticks of a schedule (over its next few ticks)."""
    start = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday: weekly schedules show their whole week
    ticks = list(islice(cron_string_iterator(start, cron, "UTC"), 10))
    return max(later - earlier for earlier, later in pairwise(ticks))


def freshness(cron: str) -> FreshnessPolicy:
    """Raw data is late after a missed tick and stale after two."""
    period = cron_period(cron)
    return FreshnessPolicy.time_window(fail_window=2 * period + timedelta(minutes=30), warn_window=period + period / 2)


def build_automation_sensor(excluded: Sequence[AssetKey]) -> AutomationConditionSensorDefinition:
    """The sensor evaluating the automation conditions of every asset but those publishing to channels."""
    target = AssetSelection.all()
    if excluded:
        target = target - AssetSelection.assets(*excluded)
    return AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=target,
        default_status=DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=60,
        description="Reads each connection on its schedule and carries what changed through to plans. Publishing "
        "is left to the publish job (an approved plan).",
    )
