"""Jobs and automation: a full sync, an incremental sync, its schedule, and a sensor for dropped files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

FULL_SYNC = "full_sync"
PUBLISH = "publish"
FILE_DROP_SYNC = "file_drop_sync"
FULL_REFRESH_TAG = "canalis/full_refresh"
RUN_KIND_TAG = "canalis/run_kind"
"""`sync` or `publish`: the instance lets one run of each kind go at a time (dagster.yaml, tag limits)."""
INCREMENTAL_SYNC = "incremental_sync"
EXECUTOR_ENV = "CANALIS_EXECUTOR"
SCHEDULE_ENV = "CANALIS_INCREMENTAL_CRON"


def is_full_refresh(context: AssetExecutionContext) -> bool:
    """Whether the run asked to ignore cursors and re-read everything."""
    return context.run.tags.get(FULL_REFRESH_TAG) == "true"


PRIORITY_TAG = "dagster/priority"
SYNC_PRIORITY = "10"
"""The hourly sync goes ahead of anything queued at the default priority 0: backfills and re-executions."""
FULL_SYNC_PRIORITY = "-10"
"""A full re-read is a backfill of every stream: it waits for everything else queued."""


def _executor():
    """In process by default (the embedded SQLite store has one writer at a time); CANALIS_EXECUTOR picks
    `multiprocess` (one process per step on this machine) or `celery` (steps on the production profile's workers)."""
    choice = os.environ.get(EXECUTOR_ENV)
    if choice == "celery":
        from canalis.deploy.executor import celery_executor

        return celery_executor()
    return multiprocess_executor if choice == "multiprocess" else in_process_executor


def build_jobs(publish_assets: Sequence[AssetKey] = ()) -> list[UnresolvedAssetJobDefinition]:
    """The two sync jobs (read, map, unify, check, plan: no write to any channel) and the publish job."""
    sync = AssetSelection.all()
    if publish_assets:
        sync = sync - AssetSelection.assets(*publish_assets)
    jobs = [
        define_asset_job(
            FULL_SYNC,
            selection=sync,
            description="Re-read every stream from the start, re-map everything, rebuild unified customers, check "
            "and plan. Writes to no channel.",
            tags={FULL_REFRESH_TAG: "true", RUN_KIND_TAG: "sync", PRIORITY_TAG: FULL_SYNC_PRIORITY},
            executor_def=_executor(),
        ),
        define_asset_job(
            INCREMENTAL_SYNC,
            selection=sync,
            description="Read what changed since the stored cursors and carry it through to unified customers, "
            "checks and a plan. Writes to no channel.",
            tags={RUN_KIND_TAG: "sync", PRIORITY_TAG: SYNC_PRIORITY},
            executor_def=_executor(),
        ),
    ]
    if publish_assets:
        jobs.append(
            define_asset_job(
                PUBLISH,
                selection=AssetSelection.assets(*publish_assets),
                description="Apply one approved plan to the channels, after its gates pass (see approved_plan).",
                tags={RUN_KIND_TAG: "publish"},
                executor_def=in_process_executor,
            )
        )
    return jobs


def build_publish_sensor() -> SensorDefinition:
    """A sensor that starts the publish job for each newly approved plan (stopped until turned on)."""

    @sensor(
        name="approved_plan_sensor",
        job_name=PUBLISH,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        required_resource_keys={"store"},
        description="Runs the publish job once for each plan approved by a person or by the policy.",
    )
    def approved_plan_sensor(context: SensorEvaluationContext):
        from canalis.publishing.plans import latest_plan

        store = context.resources.store.get_store()
        with store.engine.connect() as conn:
            plan = latest_plan(conn, "approved")
        if plan is None:
            return SkipReason("no approved plan waiting")
        config = {"ops": {"approved_plan": {"config": {"plan_id": plan.plan_id, "plan_hash": plan.short_hash}}}}
        return RunRequest(run_key=plan.plan_id, run_config=config, tags={"canalis/plan": plan.plan_id})

    return approved_plan_sensor


def build_schedules() -> list[ScheduleDefinition]:
    """The incremental sync every hour (CANALIS_INCREMENTAL_CRON to change it), stopped until turned on."""
    return [
        ScheduleDefinition(
            name="incremental_sync_schedule",
            job_name=INCREMENTAL_SYNC,
            cron_schedule=os.environ.get(SCHEDULE_ENV, "0 * * * *"),
            default_status=DefaultScheduleStatus.STOPPED,
            description="Runs the incremental sync on a cron schedule.",
        )
    ]


def build_file_drop_job(groups: Sequence[str], publish_assets: Sequence[AssetKey]) -> UnresolvedAssetJobDefinition:
    """The file-drop connections' raw assets and everything downstream of them, publishing excluded."""
    selection = AssetSelection.groups(*groups).downstream()
    if publish_assets:
        selection = selection - AssetSelection.assets(*publish_assets)
    return define_asset_job(
        FILE_DROP_SYNC,
        selection=selection,
        description="Read the file-drop folders and carry what changed through to unified customers, checks and a "
        "plan. Writes to no channel.",
        tags={RUN_KIND_TAG: "sync"},
        executor_def=_executor(),
    )


def build_file_drop_sensor(folders: dict[str, Path]) -> SensorDefinition | None:
    """A sensor that syncs the file-drop connections (and what they feed) when their folders change."""
    if not folders:
        return None

    @sensor(
        name="file_drop_sensor",
        job_name=FILE_DROP_SYNC,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Syncs the file-drop connections and what they feed when their folders change ("
        + ", ".join(sorted(folders))
        + ").",
    )
    def file_drop_sensor(context: SensorEvaluationContext):
        signature = folder_signature(folders)
        if signature == context.cursor:
            return SkipReason("no new or changed files")
        context.update_cursor(signature)
        return RunRequest(run_key=signature)

    return file_drop_sensor


def folder_signature(folders: dict[str, Path]) -> str:
    """A digest of the names, sizes and modification times of the files in the folders."""
    digest = hashlib.sha256()
    for name, folder in sorted(folders.items()):
        digest.update(name.encode())
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
