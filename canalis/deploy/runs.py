"""Queueing a job on a running production profile through the webserver, and waiting for its end."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from canalis.deploy.local import LocalProfile
from canalis.sdk.errors import CanalisError

REPOSITORY = "__repository__"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def graphql_client(profile: LocalProfile):
    """A GraphQL client of the profile's webserver."""
    from dagster_graphql import DagsterGraphQLClient

    return DagsterGraphQLClient("127.0.0.1", port_number=profile.webserver_port, timeout=60)


def submit(
    profile: LocalProfile,
    job: str,
    tags: dict[str, str] | None = None,
    asset_selection: Sequence[Sequence[str]] | None = None,
) -> str:
    """Queue a run of a job (of some of its assets, each a key path, when asked); its id."""
    from dagster_graphql import DagsterGraphQLClientError

    try:
        return graphql_client(profile).submit_job_execution(
            job,
            repository_location_name="canalis",
            repository_name=REPOSITORY,
            tags=tags or {},
            asset_selection=[list(key) for key in asset_selection] if asset_selection is not None else None,
        )
    except DagsterGraphQLClientError as error:
        raise CanalisError(
            f"Dagster webserver on port {profile.webserver_port}: submitting {job} failed: {error}"
        ) from None


def wait(profile: LocalProfile, run_id: str, *, timeout: float, out: TextIO | None = None) -> str:
    """Wait until a run has finished; its status (SUCCESS, FAILURE, CANCELED)."""
    client = graphql_client(profile)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            status = client.get_run_status(run_id).value
        except Exception:  # the webserver restarting: ask again
            status = last
        if status != last and out is not None:
            print(f"run {run_id}: {status}", file=out, flush=True)
        last = status
        if status in FINISHED:
            return status
        time.sleep(2)
    raise CanalisError(f"run {run_id} did not finish within {timeout:.0f} s (last status {last})")


def submit_and_wait(
    profile: LocalProfile, job: str, *, timeout: float, out: TextIO | None = sys.stdout
) -> tuple[str, str]:
    """Queue a job and wait for it; its run id and status."""
    run_id = submit(profile, job)
    return run_id, wait(profile, run_id, timeout=timeout, out=out)
