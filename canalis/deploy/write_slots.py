"""A slot in each written connection's write pool, held while a step writes there.

A Dagster step names one pool, and the apply step already names `canalis_publish`. It writes to several
connections, each with a write budget of its own, so it takes a slot in `canalis_write_<connection>` for each one
it is about to write, through Dagster's own claim of pool slots (`InstanceConcurrencyContext`, the class the
engine claims a step's pool with): the same table, priorities and limits (`canalis deploy pools --apply`), shown
in the UI beside the others. Each slot is claimed under a key of its own (`<step>[<pool>]`), so freeing it leaves
the step's own slot alone; run monitoring frees every slot of a run that died. Slots are claimed in name order,
so two writers wanting the same connections never hold one each and wait for the other's. On an instance without
pool limits (the embedded SQLite default) a claim succeeds at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from dagster import DagsterInstance, DagsterRun
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

from canalis.deploy.pools import write_pool

POLL_SECONDS = 1.0


def slot_key(step_key: str, pool: str) -> str:
    """The key a step's slot in another pool is claimed under."""
    return f"{step_key}[{pool}]"


@contextmanager
def write_slots(
    instance: DagsterInstance,
    run: DagsterRun,
    step_key: str,
    connections: Iterable[str],
    *,
    waiting: Callable[[str], None] = lambda pool: None,
    poll_seconds: float = POLL_SECONDS,
) -> Iterator[list[str]]:
    """Hold a slot in the write pool of each connection (in name order) for the block; the pools held."""
    pools = sorted({write_pool(connection) for connection in connections})
    held: list[str] = []
    with InstanceConcurrencyContext(instance, run) as slots:
        try:
            for pool in pools:
                key = slot_key(step_key, pool)
                if not slots.claim(pool, key):
                    waiting(pool)
                    while not slots.claim(pool, key):
                        time.sleep(poll_seconds)
                held.append(key)
            yield pools
        finally:
            for key in reversed(held):
                slots.free_step(key)
