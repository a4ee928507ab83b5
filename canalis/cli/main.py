"""The `canalis` command: run syncs, list connectors, inspect quarantine, resolve identities, serve the sandbox."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from canalis.cli.deploy import add_deploy_commands
from canalis.cli.privacy import add_privacy_commands
from canalis.cli.publish import add_publish_commands
from canalis.sdk.errors import CanalisError

if TYPE_CHECKING:
    from canalis.store import Store


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `canalis` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CANALIS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except CanalisError as error:
        print(f"canalis: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canalis", description="Canalis: one customer, one price, one stock across every channel."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = commands.add_parser(
        "check", help="check the connections file without reading any data, listing every problem"
    )
    check.add_argument("--config", type=Path, help="the connections file (default: CANALIS_CONFIG or the home's)")
    check.add_argument("--json", action="store_true", help="print the problems as JSON")
    check.set_defaults(handler=_check)

    run = commands.add_parser(
        "run", help="run a sync job through Dagster (recorded in DAGSTER_HOME) and print a summary"
    )
    run.add_argument("job", nargs="?", default="full_sync", choices=["full_sync", "incremental_sync", "publish"])
    run.add_argument("--plan", help="publish: the plan to apply (default: the newest approved plan)")
    run.add_argument("--hash", dest="plan_hash", help="publish: the plan's content hash as reviewed")
    run.add_argument("--approve", action="store_true", help="publish: approve the plan (needs --plan and --hash)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--log-level", default="WARNING", help="run log level on the console (all events go to Dagster)")
    run.set_defaults(handler=_run)

    ui = commands.add_parser("ui", help="start the Dagster UI (and the sandbox when the connections need it)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.set_defaults(handler=_ui)

    connectors = commands.add_parser("connectors", help="connectors and connections")
    connector_commands = connectors.add_subparsers(metavar="ACTION")
    listing = connector_commands.add_parser("list", help="list registered connectors")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_connectors_list)
    check = connector_commands.add_parser(
        "check", help="test configured connections against their systems (`canalis check` reads nothing)"
    )
    check.add_argument("connection", nargs="?", help="one connection (default: all)")
    check.set_defaults(handler=_connectors_check)
    settings = connector_commands.add_parser("settings", help="settings of every connector as markdown tables")
    settings.add_argument("--env-example", action="store_true", help="print an .env.example instead")
    settings.add_argument("--update-readme", type=Path, metavar="README", help="rewrite the settings tables in README")
    settings.set_defaults(handler=_connectors_settings)
    new = connector_commands.add_parser(
        "new", help="write a connector plugin package (settings, streams, mapping, recorded answers, tests)"
    )
    new.add_argument("name", help="the connector's name: lower-case letters, digits, underscores")
    new.add_argument("--kind", choices=["rest", "graphql", "sql", "yaml"], default="rest")
    new.add_argument("--dir", type=Path, default=Path("."), help="where to write canalis-<name>/ (default: here)")
    new.set_defaults(handler=_connectors_new)

    db = commands.add_parser("db", help="the canonical store")
    db_commands = db.add_subparsers(metavar="ACTION")
    db_commands.add_parser("upgrade", help="migrate the store to the newest schema").set_defaults(handler=_db_upgrade)
    db_commands.add_parser("current", help="show the schema revision").set_defaults(handler=_db_current)

    quarantine = commands.add_parser(
        "quarantine", help="list open quarantine entries; replay them now, or dismiss them (see ACTION)"
    )
    quarantine.add_argument("--all", action="store_true", help="include resolved and dismissed ones")
    quarantine.add_argument("--json", action="store_true")
    quarantine.set_defaults(handler=_quarantine)
    quarantine_commands = quarantine.add_subparsers(metavar="ACTION")
    replay = quarantine_commands.add_parser(
        "replay", help="retry records rejected while reading now (by id, else by re-reading their window)"
    )
    replay.add_argument("--source", help="one connection (default: every enabled one)")
    replay.add_argument("--stream", help="one stream of the connection(s)")
    replay.add_argument("--limit", type=int, help="most entries retried per stream (default: all open ones)")
    replay.set_defaults(handler=_quarantine_replay)
    dismiss = quarantine_commands.add_parser(
        "dismiss", help="close entries by hand: no longer retried, no longer counted (resolved ones stay resolved)"
    )
    dismiss.add_argument("keys", nargs="*", metavar="KEY", help="entry keys, as `canalis quarantine` lists them")
    dismiss.add_argument("--source", help="every open entry of a connection")
    dismiss.add_argument("--stream", help="with --source: only this stream's entries")
    dismiss.set_defaults(handler=_quarantine_dismiss)

    inconsistencies = commands.add_parser("inconsistencies", help="cross-channel inconsistencies found by the rules")
    inconsistencies.add_argument("--open", action="store_true", help="only the open ones")
    inconsistencies.add_argument("--json", action="store_true")
    inconsistencies.set_defaults(handler=_inconsistencies)

    sandbox = commands.add_parser("sandbox", help="the local sandbox of vendor emulators")
    sandbox_commands = sandbox.add_subparsers(metavar="ACTION")
    serve = sandbox_commands.add_parser("serve", help="serve every emulator on one loopback port")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default loopback only; any other needs --expose)"
    )
    serve.add_argument(
        "--expose",
        action="store_true",
        help="allow a non-loopback --host (the sandbox's credentials and ground truth are then served there)",
    )
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--imap-port", type=int, default=8143, help="port of the sandbox IMAP server (0: any free)")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--customers", type=int, default=300)
    serve.add_argument("--faults", help="fault spec, e.g. 'hubspot:429=0.05,500=0.02;*:latency=0.01'")
    serve.add_argument("--data-dir", type=Path, help="where the world and emulator state live")
    serve.add_argument("--reset", action="store_true", help="generate the world again even if one is there")
    serve.add_argument(
        "--now",
        type=_utc_moment,
        help="pin the world's clock (ISO 8601, e.g. 2026-01-15T09:00:00Z); default: the current hour",
    )
    serve.add_argument(
        "--shopify-plan",
        choices=["standard", "advanced", "plus"],
        default="standard",
        help="query-cost budget of the sandbox shop (Shopify plans differ)",
    )
    serve.set_defaults(handler=_sandbox_serve)

    add_publish_commands(commands)
    add_privacy_commands(commands)
    add_deploy_commands(commands)

    identity = commands.add_parser("identity", help="identity resolution")
    identity_commands = identity.add_subparsers(metavar="ACTION")
    resolve = identity_commands.add_parser("resolve", help="resolve a JSONL file of person records offline")
    resolve.add_argument("--input", required=True, type=Path)
    resolve.add_argument("--output", required=True, type=Path)
    resolve.add_argument("--explain", action="store_true", help="write the evidence behind every assignment")
    resolve.add_argument("--config", type=Path, help="YAML file of identity settings")
    resolve.set_defaults(handler=_identity_resolve)
    override = identity_commands.add_parser("override", help="record a steward decision on two source records")
    override.add_argument("kind", choices=["force_merge", "never_merge"])
    override.add_argument("record_a", help="record key, e.g. crm_hubspot:contacts:1001")
    override.add_argument("record_b")
    override.add_argument("--who", required=True)
    override.add_argument("--why", required=True)
    override.set_defaults(handler=_identity_override)
    split = identity_commands.add_parser("unmerge", help="split source records out of a unified customer")
    split.add_argument("customer_id")
    split.add_argument("record_keys", nargs="+")
    split.add_argument("--who", required=True)
    split.add_argument("--why", required=True)
    split.set_defaults(handler=_identity_unmerge)
    review = identity_commands.add_parser("review", help="list, accept or reject proposed merges")
    review_commands = review.add_subparsers(metavar="DECISION")
    listing = review_commands.add_parser("list", help="proposed merges, most probable first")
    listing.add_argument("--status", choices=["pending", "accepted", "rejected", "all"], default="pending")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_identity_review_list)
    for name, text in (("accept", "merge the records of proposed merges"), ("reject", "keep them apart for good")):
        decision = review_commands.add_parser(name, help=text)
        decision.add_argument("proposal_ids", nargs="+", type=int)
        decision.add_argument("--who", required=True)
        decision.add_argument("--why", required=True)
        decision.set_defaults(handler=_identity_review_decide, accept=name == "accept")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.job != "publish" and (args.plan or args.plan_hash or args.approve):
        raise CanalisError("--plan, --hash and --approve belong to the publish job")
    return run_job(
        args.job,
        plan=args.plan,
        plan_hash=args.plan_hash,
        approve=args.approve,
        as_json=args.json,
        log_level=args.log_level,
    )


def run_job(
    job: str,
    *,
    plan: str | None = None,
    plan_hash: str | None = None,
    approve: bool = False,
    as_json: bool = False,
    log_level: str = "WARNING",
) -> int:
    """Check the connections file, run a job through Dagster (recorded in DAGSTER_HOME) and print its summary."""
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.cli.summary import render_summary, summarize_run
    from canalis.config.check import check_config
    from canalis.store import Store

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(Path("dagster_home").resolve())
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    with sandbox_for_run(out=sys.stdout):
        report = check_config()
        if not report.ok:
            print(render_problems(report), file=sys.stderr)
            print("canalis: no run started; fix the connections file first (`canalis check`)", file=sys.stderr)
            return 2
        from canalis.cli.launch import launch_in_process, ready_instance

        with ready_instance() as instance:
            run_config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
            if job == "publish":
                choice = {"plan_id": plan, "plan_hash": plan_hash, "approve": approve}
                run_config["ops"] = {"approved_plan": {"config": choice}}
            result = launch_in_process(instance, job, run_config)
            with Store() as store:
                summary = summarize_run(result, store)
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(render_summary(summary, job))
    return 0 if result.success else 1


def _check(args: argparse.Namespace) -> int:
    from canalis.cli.sandbox import sandbox_placeholders
    from canalis.config.check import check_config

    with sandbox_placeholders(args.config):
        report = check_config(args.config.resolve() if args.config else None)
    if args.json:
        problems = [{"where": p.where, "connection": p.connection, "problem": p.message} for p in report.problems]
        print(json.dumps({"file": str(report.path), "ok": report.ok, "problems": problems}, indent=2))
    elif report.ok:
        print(f"{report.path}: ok")
        for connection in report.connections:
            mapping = connection.mapping.name if connection.mapping else "-"
            print(f"  {connection.name:<20} {connection.connector:<12} {mapping:<18} {', '.join(connection.streams)}")
    else:
        print(render_problems(report))
    return 0 if report.ok else 1


def render_problems(report) -> str:
    """The problems of a check as text, one per line."""
    lines = [f"{report.path}: {len(report.problems)} problem(s)"]
    lines += [f"  {problem}" for problem in report.problems]
    return "\n".join(lines)


def _ui(args: argparse.Namespace) -> int:
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.cli.ui import serve_ui

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(Path("dagster_home").resolve())
    with sandbox_for_run(out=sys.stdout):  # the UI's runs inherit the sandbox URL and credentials
        return serve_ui(args.host, args.port)


def _connectors_list(args: argparse.Namespace) -> int:
    from canalis.connectors.registry import discover

    rows = []
    for name, registered in sorted(discover().items()):
        cls = registered.connector
        rows.append(
            {
                "name": name,
                "kind": cls.kind,
                "streams": [stream.name for stream in cls.streams if stream.readable],
                "write_streams": [stream.name for stream in cls.streams if stream.writable],
                "writes": cls.can_write(),
                "origin": registered.origin,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    origin_width = max([16, *(len(row["origin"]) + 1 for row in rows)])
    print(f"{'NAME':<16} {'KIND':<10} {'WRITES':<7} {'ORIGIN':<{origin_width}} STREAMS")
    for row in rows:
        writes = "yes" if row["writes"] else "no"
        streams = ", ".join(row["streams"])
        if row["write_streams"]:
            streams += "  (writes: " + ", ".join(row["write_streams"]) + ")"
        print(f"{row['name']:<16} {row['kind']:<10} {writes:<7} {row['origin']:<{origin_width}} {streams}")
    return 0


def _connectors_check(args: argparse.Namespace) -> int:
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.config.connections import load_config

    config = load_config()
    connections = config.enabled_connections()
    if args.connection:
        if args.connection not in connections:
            raise CanalisError(f"no enabled connection '{args.connection}' in {config.path}")
        connections = {args.connection: connections[args.connection]}
    with sandbox_for_run(out=sys.stdout):
        failures = _check_connections(connections)
    return 1 if failures else 0


def _check_connections(connections) -> int:
    from canalis.config.wiring import build_connector

    failures = 0
    for name, connection in connections.items():
        try:
            with build_connector(name, connection) as connector:
                result = connector.check()
            print(f"{name:<20} {'ok' if result.ok else 'FAILED':<7} {result.message}")
            failures += 0 if result.ok else 1
        except CanalisError as error:
            print(f"{name:<20} FAILED  {error}")
            failures += 1
    return failures


def _connectors_new(args: argparse.Namespace) -> int:
    from canalis.connectors.registry import discover
    from canalis.scaffold import scaffold

    root = scaffold(args.name, args.kind, args.dir, taken=set(discover()))
    print(f"wrote {root} ({args.kind} connector '{args.name}')")
    print(f'next: pip install -e "{root}[test]" && pytest {root}   (the conformance suite, no network)')
    return 0


def _connectors_settings(args: argparse.Namespace) -> int:
    from canalis.connectors.registry import discover
    from canalis.sdk.docs import env_example, settings_markdown

    registry = discover(include_plugins=False)
    if args.update_readme:
        from canalis.sdk.docs import with_settings_tables

        args.update_readme.write_text(
            with_settings_tables(args.update_readme.read_text(encoding="utf-8"), registry), encoding="utf-8"
        )
        return 0
    print(env_example(registry) if args.env_example else settings_markdown(registry))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from canalis.store import Store
    from canalis.store.migrate import current_revision

    with Store() as store:
        store.migrate()
        print(f"{store.display_url}: schema at revision {current_revision(store.engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from canalis.store import Store
    from canalis.store.migrate import current_revision, head_revision

    with Store() as store:
        print(f"{store.display_url}: revision {current_revision(store.engine) or '(none)'}, newest {head_revision()}")
    return 0


def _quarantine(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from canalis.store import tables

    q = tables.quarantine
    query = select(
        q.c.quarantine_key.label("key"),
        q.c.source,
        q.c.stream,
        q.c.stage,
        q.c.record_id,
        q.c.field,
        q.c.error,
        q.c.occurrences,
        q.c.last_seen_at,
        q.c.resolved_at,
        q.c.dismissed_at,
    ).order_by(q.c.source, q.c.stream, q.c.record_id)
    if not args.all:
        query = query.where(tables.quarantine_open())
    with migrated_store() as store, store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        status = "dismissed" if row["dismissed_at"] else "resolved" if row["resolved_at"] else "open"
        print(f"{row['key']} [{status}]: {row['error']}")
    print(f"{len(rows)} quarantined record(s)" + ("" if args.all else " open"))
    return 0


def _quarantine_replay(args: argparse.Namespace) -> int:
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.config.connections import load_config
    from canalis.config.wiring import build_connector, streams_of
    from canalis.connectors.registry import discover
    from canalis.ingest.replay import replay_stream
    from canalis.privacy import mask_text
    from canalis.store import tables

    config = load_config()
    registry = discover()
    connections = config.enabled_connections()
    if args.source is not None and args.source not in connections:
        raise CanalisError(f"no enabled connection '{args.source}' (connections: {', '.join(connections) or 'none'})")
    if args.limit is not None and args.limit < 1:
        raise CanalisError("--limit must be 1 or more")
    chosen = {args.source: connections[args.source]} if args.source else connections
    retried = healed = still_open = failed = 0
    with migrated_store() as store, sandbox_for_run(out=sys.stderr):
        for name, connection in chosen.items():
            streams = streams_of(connection, registry[connection.connector])
            if args.stream is not None:
                if args.stream not in streams:
                    raise CanalisError(f"connection '{name}' reads no stream '{args.stream}'")
                streams = [args.stream]
            waiting = [stream for stream in streams if store.has_open_quarantine(name, stream, tables.READ_STAGES)]
            if not waiting:
                continue
            with build_connector(name, connection, registry) as connector:
                for stream in waiting:
                    try:
                        report = replay_stream(
                            store, connector, stream, settings=connection.replay, limit=args.limit or 1_000_000
                        )
                    except Exception as error:  # one stream failing to replay leaves the others to go on
                        reason = mask_text(" ".join(str(error).split())) or type(error).__name__
                        print(f"{name}.{stream}: replay failed: {reason}", file=sys.stderr)
                        failed += 1
                        continue
                    for key in report.healed_keys:
                        print(f"healed {key}")
                    print(
                        f"{name}.{stream}: retried {report.retried} ({report.method}), healed {report.healed}, "
                        f"closed {report.stale_closed} already landed, {report.still_open} still open"
                    )
                    retried += report.retried
                    healed += report.healed + report.stale_closed
                    still_open += report.still_open
    print(f"{healed} healed of {retried} retried; {still_open} still open")
    return 1 if failed else 0


def _quarantine_dismiss(args: argparse.Namespace) -> int:
    if not args.keys and args.source is None:
        raise CanalisError("name the entries to dismiss: their keys, or --source")
    if args.stream is not None and args.source is None:
        raise CanalisError("--stream needs --source")
    with migrated_store() as store:
        dismissed = store.dismiss_quarantine(args.keys, source=args.source, stream=args.stream)
    for key in dismissed:
        print(f"dismissed {key}")
    unknown = sorted(set(args.keys) - set(dismissed))
    for key in unknown:
        print(f"not open: {key}", file=sys.stderr)
    print(f"{len(dismissed)} entr{'y' if len(dismissed) == 1 else 'ies'} dismissed")
    return 1 if unknown else 0


@contextmanager
def migrated_store() -> Iterator[Store]:
    """The configured store, brought to the newest schema, closed afterwards."""
    from canalis.store import Store

    with Store() as store:
        store.migrate()
        yield store


def _identity_override(args: argparse.Namespace) -> int:
    from canalis.config.connections import load_config
    from canalis.identity.persistence import apply_override

    config = load_config().identity
    with migrated_store() as store:
        report = apply_override(
            store.engine, args.kind, args.record_a, args.record_b, args.who, args.why, config=config
        )
    print(json.dumps(report.to_dict() if hasattr(report, "to_dict") else report, indent=2, default=str))
    return 0


def _identity_unmerge(args: argparse.Namespace) -> int:
    from canalis.config.connections import load_config
    from canalis.identity.persistence import unmerge

    config = load_config().identity
    with migrated_store() as store:
        report = unmerge(store.engine, args.customer_id, args.record_keys, args.who, args.why, config=config)
    print(json.dumps(report.to_dict() if hasattr(report, "to_dict") else report, indent=2, default=str))
    return 0


def _identity_review_list(args: argparse.Namespace) -> int:
    from canalis.identity.review import list_proposals, proposal_counts

    with migrated_store() as store:
        rows = list_proposals(store.engine, None if args.status == "all" else args.status, args.limit)
        counts = proposal_counts(store.engine)
    print(json.dumps({"counts": counts, "proposals": rows}, indent=2, default=str))
    return 0


def _identity_review_decide(args: argparse.Namespace) -> int:
    from canalis.config.connections import load_config
    from canalis.identity.review import decide

    config = load_config().identity
    with migrated_store() as store:
        try:
            report = decide(store.engine, args.proposal_ids, args.accept, args.who, args.why, config=config)
        except (KeyError, ValueError) as error:
            raise CanalisError(str(error.args[0] if error.args else error)) from None
    print(json.dumps(report.to_dict(), indent=2, default=str))
    return 0


def _inconsistencies(args: argparse.Namespace) -> int:
    from canalis.consistency import list_inconsistencies, render_table

    with migrated_store() as store:
        rows = list_inconsistencies(store, open_only=args.open)
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_table(rows))
    return 0


def _sandbox_serve(args: argparse.Namespace) -> int:
    from canalis.sandbox.serve import check_exposure, serve
    from canalis.sandbox.server.faults import parse_faults
    from canalis.store.database import canalis_home

    parse_faults(args.faults)  # fail fast on a bad spec, before generating anything
    check_exposure(args.host, expose=args.expose, out=None)  # before generating anything too
    data_dir = args.data_dir or canalis_home() / "sandbox"
    serve(
        host=args.host,
        port=args.port,
        seed=args.seed,
        customers=args.customers,
        faults=args.faults,
        data_dir=data_dir,
        reset=args.reset,
        out=sys.stdout,
        shopify_plan=args.shopify_plan,
        imap_port=args.imap_port,
        now=args.now,
        expose=args.expose,
    )
    return 0


def _utc_moment(text: str) -> datetime:
    """An ISO 8601 moment; one without a time zone is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 moment: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _identity_resolve(args: argparse.Namespace) -> int:
    import yaml

    if not args.input.is_file():
        raise CanalisError(f"input file {args.input} not found")
    from canalis.identity import IdentityConfig
    from canalis.identity.cli import run_resolve

    config = None
    if args.config:
        config = IdentityConfig.model_validate(yaml.safe_load(args.config.read_text(encoding="utf-8")) or {})
    summary = run_resolve(args.input, args.output, explain=args.explain, config=config)
    print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
