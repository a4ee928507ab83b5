"""Writes announced in the audit whose outcome a dead run never recorded are read back on the next apply and
settled as applied, not applied or unknown; nothing is sent twice and every announced write ends settled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from canalis.config.wiring import build_connector, build_mappers
from canalis.publishing.plans import load_plan
from canalis.publishing.reconcile import reconcile_sent, unresolved_keys
from canalis.sandbox.server import parse_faults
from canalis.sdk import ConnectorError
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page
from canalis.sync import sync_all
from tests.publish.test_publish_sandbox import (
    Wrapped,
    _apply,
    _audit,
    _changes,
    _propose,
    _publish,
    _without_square_promotions,
)

pytestmark = pytest.mark.slow


class Unreadable(Wrapped):
    """A channel that cannot be read at the moment."""

    def read(self, stream: str, state: StreamState | None = None) -> Iterator[Page]:
        raise ConnectorError(f"{self.inner.connection}: GET {stream} answered 503")


def _killed_apply(world, crash: dict[str, int]) -> tuple[str, Wrapped]:
    _without_square_promotions(world)
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    connectors = world.connectors()
    first = connectors["web_shopify"] = Wrapped(connectors["web_shopify"], **crash)
    with pytest.raises(KeyboardInterrupt):
        _apply(world, stored.plan_id, connectors)
    return stored.plan_id, first


def _audit_by_change(world) -> dict[str, list[str]]:
    trail: dict[str, list[str]] = {}
    for row in _audit(world):
        trail.setdefault(row["idempotency_key"], []).append(row["status"])
    return trail


@pytest.mark.parametrize(
    ("crash", "settled", "sent_again"),
    [({"die_before": 0}, "not applied", True), ({"die_after": 0}, "applied", False)],
    ids=["killed before the call", "killed after the vendor applied the call"],
)
def test_a_killed_batch_is_read_back_and_settled(sandbox_world, crash, settled: str, sent_again: bool) -> None:
    world = sandbox_world
    plan_id, first = _killed_apply(world, crash)
    with world.store.engine.connect() as conn:
        announced = unresolved_keys(conn)
    assert announced, "the killed batch left no announced write"
    batch = [c for c in _changes(world, plan_id) if c.idempotency_key in announced]
    assert {c.status for c in batch} == {"sending"} and {c.channel for c in batch} == {"web_shopify"}

    counts = reconcile_sent(world.store, _publish(world), world.connectors(), build_mappers(world.config), run_id="r2")
    assert counts == Counter({settled: len(batch)})
    with world.store.engine.connect() as conn:
        assert not unresolved_keys(conn)
    trail = _audit_by_change(world)
    assert all(trail[c.idempotency_key] == ["sending", settled] for c in batch)

    connectors = world.connectors()
    second = connectors["web_shopify"] = Wrapped(connectors["web_shopify"])
    report = _apply(world, plan_id, connectors, run_id="run-3")
    assert report.status == "applied", report.errors
    again = {c.record_key for c in batch} & set(second.written)
    assert bool(again) == sent_again
    sent = first.written + second.written
    assert len(sent) == len(set(sent)), "a record the vendor had applied was sent again"
    trail = _audit_by_change(world)
    expected = ["sending", "not applied", "sending", "applied"] if sent_again else ["sending", "applied"]
    assert all(trail[c.idempotency_key] == expected for c in batch)
    with world.store.engine.connect() as conn:
        assert not unresolved_keys(conn)
        assert load_plan(conn, plan_id).status == "applied"


def test_a_channel_that_cannot_be_read_back_leaves_the_outcome_unknown(sandbox_world) -> None:
    world = sandbox_world
    plan_id, _ = _killed_apply(world, {"die_after": 0})
    connectors: dict[str, Any] = world.connectors()
    connectors["web_shopify"] = Unreadable(connectors["web_shopify"])
    counts = reconcile_sent(world.store, _publish(world), connectors, build_mappers(world.config), run_id="r2")
    assert set(counts) == {"unknown"} and counts["unknown"] > 0
    rows = [row for row in _audit(world) if row["status"] == "unknown"]
    assert len(rows) == counts["unknown"]
    assert all("ConnectorError" in row["error"] and "cannot be told" in row["error"] for row in rows)
    still = {c.idempotency_key for c in _changes(world, plan_id) if c.status == "sending"}
    assert {row["idempotency_key"] for row in rows} == still  # the plan keeps them: applying it reads them again
    with world.store.engine.connect() as conn:
        assert not unresolved_keys(conn)


def test_nothing_announced_means_nothing_to_read_back(sandbox_world) -> None:
    world = sandbox_world
    calls = Counter()
    connectors = world.connectors()
    for name, connector in list(connectors.items()):
        wrapped = Wrapped(connector)
        wrapped.read = lambda *args, _name=name, **kwargs: calls.update([_name]) or iter(())  # type: ignore[method-assign]
        connectors[name] = wrapped
    assert reconcile_sent(world.store, _publish(world), connectors, build_mappers(world.config), run_id=None) == {}
    assert not calls


def test_a_write_whose_answer_is_lost_is_recorded_unknown_then_read_back_as_applied(sandbox_world) -> None:
    world = sandbox_world
    _without_square_promotions(world)
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    shopify = {c.idempotency_key for c in _changes(world, stored.plan_id) if c.channel == "web_shopify"}
    assert shopify
    connection = world.config.connections["web_shopify"]
    impatient = connection.model_copy(update={"settings": {**connection.settings, "max_attempts": 1}})
    connectors = world.connectors()
    first = connectors["web_shopify"] = Wrapped(build_connector("web_shopify", impatient))
    app = world.server.app
    app.faults.rates = parse_faults("shopify:lost_reply=1")  # Shopify applies every write, its answers are lost
    try:
        report = _apply(world, stored.plan_id, connectors)
    finally:
        app.faults.rates = {}
    assert app.faults.injected[("shopify", "lost_reply")] > 0
    assert report.status == "approved" and report.retryable_failures > 0
    trail = _audit_by_change(world)
    lost = {key for key in shopify if trail[key][-1] == "unknown"}
    assert lost, "no write of Shopify was recorded with an unknown outcome"
    assert all(trail[key] == ["sending", "unknown"] for key in lost)

    connectors = world.connectors()
    second = connectors["web_shopify"] = Wrapped(connectors["web_shopify"])
    report = _apply(world, stored.plan_id, connectors, run_id="run-2")
    assert report.status == "applied", report.errors
    resent = {c.record_key for c in _changes(world, stored.plan_id) if c.idempotency_key in lost} & set(second.written)
    assert not resent, f"sent again although the vendor had applied them: {sorted(resent)}"
    trail = _audit_by_change(world)
    assert all(trail[key] == ["sending", "unknown", "applied"] for key in lost)
    assert first.written
