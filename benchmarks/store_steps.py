"""The consistency pass and the publish plan of a full sync, run alone on a copy of a kept home's store.

    python -m benchmarks.store_steps --home /tmp/canalis-hubspot-sync-xxxx/canalis [--profile FILE]

Takes the store of a Canalis home that ran `full_sync` (`python -m benchmarks.hubspot_sync_benchmark --keep` or
`sync_benchmark --keep` leave one), copies it, and runs on the copy, as `full_sync` does: every consistency rule
(with the inconsistencies table emptied first, so every finding opens again) and a full publish plan. Prints the
CPU and wall seconds of each, the findings per rule with a digest of them, and the plan's changes with its
content hash, so that two versions of the code can be compared on the same store: same digest and hash, fewer
seconds. `--profile FILE` writes a cProfile of both steps.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa


def timed(step: Callable[[], Any], profile: cProfile.Profile | None) -> tuple[float, float, Any]:
    """CPU seconds, wall seconds and result of one call (profiled when asked)."""
    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        result = step()
    finally:
        if profile is not None:
            profile.disable()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a Canalis home that ran full_sync")
    parser.add_argument("--profile", type=Path, help="write a cProfile of both steps here")
    args = parser.parse_args(argv)
    os.environ["CANALIS_HOME"] = str(args.home)

    from canalis.config.connections import load_config
    from canalis.consistency import check_consistency, settings_for
    from canalis.consistency.tables import inconsistencies
    from canalis.publishing import load_publish_config
    from canalis.publishing.plans import content_hash, propose_plan
    from canalis.store import Store

    folder = Path(tempfile.mkdtemp(prefix="canalis-store-steps-"))
    try:
        source = args.home / "canalis.db"
        with sqlite3.connect(source) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(source, folder / "canalis.db")
        store = Store(f"sqlite:///{folder / 'canalis.db'}")
        config = load_config(args.home / "canalis.yaml")
        consistency_settings, publish = settings_for(config), load_publish_config(config)
        profile = cProfile.Profile() if args.profile else None
        with store.begin() as conn:
            conn.execute(sa.delete(inconsistencies))

        cpu, wall, report = timed(lambda: check_consistency(store, consistency_settings, run_id="bench"), profile)
        digest = hashlib.sha256(repr(sorted(repr(finding) for finding in report.findings)).encode()).hexdigest()
        found = {code: count for code, count in report.by_code().items() if count}
        print(f"inconsistencies: {cpu:.2f} s CPU, {wall:.2f} s wall; {len(report.findings)} findings {found}")
        print(f"  digest of the findings {digest[:16]}")

        def plan():
            with store.begin() as conn:
                return propose_plan(conn, publish, created_by="bench", incremental=False)

        cpu, wall, (proposed, _) = timed(plan, profile)
        changes = len(proposed.changes)
        print(f"plans: {cpu:.2f} s CPU, {wall:.2f} s wall; {changes} changes on {len(proposed.records)} records")
        print(f"  content hash {content_hash(proposed)[:16] if changes else '(no plan)'}")
        if profile is not None:
            profile.dump_stats(args.profile)
        store.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
