"""`canalis privacy`: plan the erasure of a person (applied through `canalis publish`), export what is held."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_privacy_commands(commands: Any) -> None:
    """The `privacy` command and its actions."""
    privacy = commands.add_parser("privacy", help="erasure and access requests")
    actions = privacy.add_subparsers(metavar="ACTION")
    erase = actions.add_parser("erase", help="plan the erasure of a person in every connected system")
    _person_arguments(erase)
    erase.add_argument("--by", help="who asks (default: your user name)")
    erase.set_defaults(handler=plan_erase)
    export = actions.add_parser("export", help="write everything Canalis holds on a person as JSON")
    _person_arguments(export)
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.add_argument("--by", help="who asks (default: your user name)")
    export.set_defaults(handler=export_person)


def _person_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's email address")
    who.add_argument("--customer", help="the person's unified customer id")


def _connector_classes() -> dict[str, Any]:
    from canalis.config.connections import load_config
    from canalis.connectors.registry import discover

    registry = discover()
    config = load_config()
    return {
        name: registry[connection.connector].connector
        for name, connection in config.enabled_connections().items()
        if connection.connector in registry
    }


def plan_erase(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.cli.publish import _user
    from canalis.privacy.erasure import plan_erasure

    with migrated_store() as store:
        report = plan_erasure(store, _connector_classes(), email=args.email, customer=args.customer, by=_user(args.by))
    print(f"{report.plan_id} ({report.status}): erasure of {report.records} source record(s)")
    for channel, entities in sorted(report.per_channel.items()):
        print(f"  {channel:<20} " + ", ".join(f"{entity} {count}" for entity, count in entities.items()))
    for channel, count in sorted(report.not_supported.items()):
        print(f"  {channel:<20} {count} record(s) the connector cannot erase: purged from Canalis only")
    print(f"  content hash {report.short_hash}; review it with `canalis publish show {report.plan_id}`,")
    print(f"  approve it with `canalis publish approve {report.plan_id} --hash {report.short_hash}`,")
    print(f"  then apply it with `canalis publish apply {report.plan_id}`")
    return 0


def apply_erase(plan_id: str, plan_hash: str | None, as_json: bool) -> int:
    """Apply an approved erase plan (called by `canalis publish apply` for plans of kind erase)."""
    from contextlib import ExitStack

    from canalis.cli.main import migrated_store
    from canalis.cli.publish import _user
    from canalis.config.connections import load_config
    from canalis.config.wiring import build_connector
    from canalis.connectors.registry import discover
    from canalis.privacy.erasure import apply_erase_plan

    config = load_config()
    registry = discover()
    with migrated_store() as store, ExitStack() as stack:
        connectors = {
            name: stack.enter_context(build_connector(name, connection, registry))
            for name, connection in config.enabled_connections().items()
            if connection.connector in registry
        }
        report = apply_erase_plan(
            store, plan_id, connectors, identity=config.identity, by=f"cli:{_user(None)}", expected_hash=plan_hash
        )
    summary = {
        "plan_id": report.plan_id,
        "status": report.status,
        "calls": dict(report.calls),
        "errors": report.errors,
        "purged": report.purged,
        "hashes_kept": report.hashes,
    }
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        calls = ", ".join(f"{status} {count}" for status, count in sorted(report.calls.items()))
        print(f"{report.plan_id}: {report.status}; vendor calls: {calls or 'none'}")
        print(f"  purged from the store: {sum(report.purged.values())} row(s) in {len(report.purged)} table(s)")
        for error in report.errors:
            print(f"  failed: {error}")
        if report.status != "applied":
            print(f"  apply it again to retry: `canalis publish apply {report.plan_id}`")
    return 0 if report.status == "applied" else 1


def export_person(args: argparse.Namespace) -> int:
    from canalis.cli.main import migrated_store
    from canalis.cli.publish import _user
    from canalis.privacy.export import export_person as export

    with migrated_store() as store:
        document = export(store, email=args.email, customer=args.customer, by=_user(args.by))
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if args.output is None:
        sys.stdout.write(text + "\n")
        return 0
    args.output.write_text(text + "\n", encoding="utf-8")
    held = sum(len(rows) for rows in document.values() if isinstance(rows, list))
    print(f"wrote {held} record(s) to {args.output}")
    return 0
