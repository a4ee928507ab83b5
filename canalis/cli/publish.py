"""`canalis publish`: review stored plans, approve or reject them, apply one through the publish job."""

from __future__ import annotations

import argparse
import getpass
import json
from dataclasses import asdict
from typing import Any

STATUSES = ["proposed", "approved", "applied", "superseded", "rejected", "expired"]


def add_publish_commands(commands: Any) -> None:
    """The `publish` command and its actions."""
    publish = commands.add_parser("publish", help="publish plans: review, approve, reject, apply")
    actions = publish.add_subparsers(metavar="ACTION")
    plan = actions.add_parser("plan", help="compute a plan from the store now and store it for review")
    plan.add_argument("--by", help="who plans (default: your user name)")
    plan.set_defaults(handler=plan_now)
    listing = actions.add_parser("list", help="the newest plans and their status")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_stored)
    show = actions.add_parser("show", help="a plan's changes and what became of them")
    show.add_argument("plan_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_plan)
    approve = actions.add_parser("approve", help="approve a proposed plan")
    approve.add_argument("plan_id")
    approve.add_argument("--hash", dest="plan_hash", help="the content hash you reviewed (`canalis publish show`)")
    approve.add_argument("--by", help="who approves (default: your user name)")
    approve.set_defaults(handler=approve_stored)
    reject = actions.add_parser("reject", help="reject a plan: it will never be applied")
    reject.add_argument("plan_id")
    reject.add_argument("--why", required=True)
    reject.add_argument("--by", help="who rejects (default: your user name)")
    reject.set_defaults(handler=reject_stored)
    apply = actions.add_parser("apply", help="run the publish job on an approved plan")
    apply.add_argument("plan_id")
    apply.add_argument("--hash", dest="plan_hash", help="the content hash you reviewed")
    apply.add_argument("--json", action="store_true", help="print the summary as JSON")
    apply.set_defaults(handler=apply_plan)


def _user(by: str | None) -> str:
    return by or getpass.getuser()


def plan_now(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.config.connections import load_config
    from canalis.publishing import load_publish_config, propose_plan

    config = load_publish_config(load_config())
    with migrated_store() as store, store.begin() as conn:
        _, stored = propose_plan(conn, config, created_by=_user(args.by))
    if stored is None:
        print("nothing to change: every channel shows what it should")
        return 0
    print(f"{stored.plan_id} ({stored.status}): {stored.changes} changes on {stored.records} records")
    print(f"  content hash {stored.short_hash}; review it with `canalis publish show {stored.plan_id}`")
    return 0


def list_stored(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.publishing import list_plans

    with migrated_store() as store, store.engine.connect() as conn:
        plans = list_plans(conn, status=args.status)
    if args.json:
        print(json.dumps([asdict(plan) for plan in plans], indent=2, default=str))
        return 0
    for plan in plans:
        status = plan.status + (f" by {plan.decided_by}" if plan.decided_by else "")
        when = f"{plan.created_at:%Y-%m-%d %H:%M}"
        print(f"{plan.plan_id}  {plan.kind:<7} {plan.short_hash}  {status:<26} {plan.changes:>6} changes  {when}")
    if not plans:
        print("no publish plan yet: every sync plans (or `canalis publish plan`)")
    return 0


def show_plan(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.publishing import load_plan, plan_changes

    with migrated_store() as store, store.engine.connect() as conn:
        plan = load_plan(conn, args.plan_id)
        changes = plan_changes(conn, args.plan_id)
    if args.json:
        document = {"plan": asdict(plan), "changes": [asdict(change) for change in changes]}
        print(json.dumps(document, indent=2, default=str))
        return 0
    reason = f" ({plan.status_reason})" if plan.status_reason else ""
    print(f"{plan.kind} plan {plan.plan_id}  content hash {plan.short_hash}  {plan.status}{reason}")
    decided = f"; {plan.status} by {plan.decided_by}" if plan.decided_by else ""
    print(f"  made {plan.created_at:%Y-%m-%d %H:%M} by {plan.created_by}{decided}")
    for channel, entities in sorted(plan.counts.items()):
        print(f"  {channel:<20} " + ", ".join(f"{entity} {count}" for entity, count in entities.items()))
    print()
    for change in changes:
        values = f"{change.old_value or '∅'} -> {change.new_value or '∅'}"
        where = f"{change.channel:<18} {change.entity:<13} {change.record_key:<30} {change.field:<16}"
        print(f"  {where} {values}  [{change.status}]")
    return 0


def approve_stored(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.publishing import approve_plan

    with migrated_store() as store, store.begin() as conn:
        plan = approve_plan(conn, args.plan_id, _user(args.by), expected_hash=args.plan_hash)
    print(f"{plan.plan_id} approved by {plan.decided_by}; apply it with `canalis publish apply {plan.plan_id}`")
    return 0


def reject_stored(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.publishing import reject_plan

    with migrated_store() as store, store.begin() as conn:
        plan = reject_plan(conn, args.plan_id, _user(args.by), args.why)
    print(f"{plan.plan_id} rejected by {plan.decided_by}")
    return 0


def apply_plan(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store, run_job
    from canalis.publishing import load_plan

    with migrated_store() as store, store.engine.connect() as conn:
        kind = load_plan(conn, args.plan_id).kind
    if kind == "erase":  # an erasure request: the vendors' erasure calls and the purge of the store
        from canalis.cli.privacy import apply_erase

        return apply_erase(args.plan_id, args.plan_hash, args.json)
    return run_job("publish", plan=args.plan_id, plan_hash=args.plan_hash, as_json=args.json)
