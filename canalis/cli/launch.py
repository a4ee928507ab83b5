"""Running a Canalis job from the command line as a run of the Canalis code location.

The run is recorded with the origin of the workspace's code location (module `canalis.assets.definitions`,
location `canalis`, or CANALIS_CODE_LOCATION), so it shows on the job's page in the UI and re-executes from
there, while it executes in this process like `dagster job execute` would.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import JobExecutionResult, execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

DEFINITIONS_MODULE = "canalis.assets.definitions"
LOCATION_ENV = "CANALIS_CODE_LOCATION"
DEFAULT_LOCATION = "canalis"
REPOSITORY = "__repository__"  # the repository of a `Definitions` object


@contextmanager
def ready_instance() -> Iterator[DagsterInstance]:
    """The Dagster instance of DAGSTER_HOME, its storage set up by one process at a time.

    Two first runs started together on a fresh home would otherwise both create Dagster's SQLite tables.
    """
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".canalis-instance.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            instance = DagsterInstance.get()
            instance.get_runs(limit=1)  # creates the run, event and schedule storage on first use
            instance.event_log_storage.get_asset_records([])
            instance.schedule_storage  # noqa: B018 - touched to create it
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    with instance:
        yield instance


def location_name() -> str:
    """The code location name the workspace gives Canalis."""
    return os.environ.get(LOCATION_ENV) or DEFAULT_LOCATION


def launch_in_process(
    instance: DagsterInstance, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str] | None = None
) -> JobExecutionResult:
    """Create the run as the code location's and execute it here, from the connections file as it is now."""
    if DEFINITIONS_MODULE in sys.modules:  # built earlier in this process from another file: build it again
        importlib.reload(sys.modules[DEFINITIONS_MODULE])
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=DEFINITIONS_MODULE, attribute="defs", working_directory=os.getcwd()
    )
    repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", working_directory=os.getcwd())
    job = repository.get_reconstructable_job(job_name)
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name()),
            repository_name=REPOSITORY,
        ),
        job_name=job_name,
    )
    definition = job.get_definition()
    run = instance.create_run_for_job(
        job_def=definition,
        run_config=dict(run_config),
        tags={**definition.tags, **(tags or {})},
        remote_job_origin=origin,
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance)
