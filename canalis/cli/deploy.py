"""`canalis deploy`: the production profile's pools, and the profile on this machine (`deploy local up|down`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_deploy_commands(commands: Any) -> None:
    """The `deploy` command and its actions."""
    deploy = commands.add_parser("deploy", help="the production profile: pools, and running it on this machine")
    actions = deploy.add_subparsers(metavar="ACTION")
    pools = actions.add_parser("pools", help="the concurrency pools and their limits, from the vendors' rate limits")
    pools.add_argument("--apply", action="store_true", help="set the limits in the Dagster instance of DAGSTER_HOME")
    pools.add_argument("--json", action="store_true")
    pools.set_defaults(handler=_pools)
    local = actions.add_parser("local", help="the production profile on this machine")
    local_actions = local.add_subparsers(metavar="ACTION")
    up = local_actions.add_parser("up", help="start sandbox, code server, webserver, daemon and Celery workers")
    up.add_argument("--folder", type=Path, default=Path(".canalis-prod"), help="pid files, logs, Dagster home")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--customers", type=int, default=300, help="customers in the sandbox world")
    up.set_defaults(handler=_up)
    down = local_actions.add_parser("down", help="stop exactly what `up` started")
    down.add_argument("--folder", type=Path, default=Path(".canalis-prod"))
    down.set_defaults(handler=_down)
    status = local_actions.add_parser("status", help="the processes `up` started and whether they run")
    status.add_argument("--folder", type=Path, default=Path(".canalis-prod"))
    status.set_defaults(handler=_status)
    run = local_actions.add_parser("run", help="queue a job on the running profile and wait for it")
    run.add_argument("job", choices=["incremental_sync", "full_sync", "publish"])
    run.add_argument("--folder", type=Path, default=Path(".canalis-prod"))
    run.add_argument("--timeout", type=float, default=1800)
    run.set_defaults(handler=_run)


def _pools(args: argparse.Namespace) -> int:
    from canalis.config.connections import load_config
    from canalis.connectors.registry import discover
    from canalis.deploy.pools import pool_limits

    limits = pool_limits(load_config(), discover())
    if args.apply:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            for row in limits:
                instance.event_log_storage.set_concurrency_slots(row.pool, row.limit)
    if args.json:
        print(json.dumps([row.model_dump() for row in limits], indent=2))
    else:
        width = max((len(row.pool) for row in limits), default=0)
        for row in limits:
            print(f"{row.pool:<{width}} {row.limit:>3}  {row.reason}")
        if args.apply:
            print(f"{len(limits)} pool limit(s) set in the instance")
    return 0


def _up(args: argparse.Namespace) -> int:
    from canalis.deploy.local import LocalProfile, up

    up(LocalProfile(folder=args.folder, workers=args.workers, sandbox_customers=args.customers))
    return 0


def _down(args: argparse.Namespace) -> int:
    from canalis.deploy.local import LocalProfile, down

    down(LocalProfile.load(args.folder))
    return 0


def _status(args: argparse.Namespace) -> int:
    from canalis.deploy.local import LocalProfile, status

    rows = status(LocalProfile.load(args.folder))
    for name, pid, running in rows:
        print(f"{name:<12} {pid:>8}  {'running' if running else 'stopped'}")
    return 0 if rows and all(running for _, _, running in rows) else 1


def _run(args: argparse.Namespace) -> int:
    from canalis.deploy.local import LocalProfile
    from canalis.deploy.runs import submit_and_wait

    profile = LocalProfile.load(args.folder)
    _, status = submit_and_wait(profile, args.job, timeout=args.timeout, out=sys.stdout)  # prints each status
    return 0 if status == "SUCCESS" else 1
