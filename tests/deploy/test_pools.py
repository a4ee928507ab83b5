"""Pools: one per vendor API sized from its documented budget and each step's pace; raw assets use them."""

from __future__ import annotations

import threading
import uuid

import pytest

from canalis.assets.build import build_definitions
from canalis.config.connections import parse_config
from canalis.connectors.registry import discover
from canalis.deploy.pools import VENDOR_BUDGETS, budget_limit, pool_limits, read_pool, vendor_limit, write_limit
from canalis.deploy.write_slots import write_slots


def _limits(connections: dict) -> dict[str, int]:
    config = parse_config({"connections": connections})
    return {row.pool: row.limit for row in pool_limits(config, discover())}


@pytest.mark.parametrize(("pace", "expected"), [(10.0, 1), (2.0, 5), (3.0, 3), (0.0, 1), (0.5, 10)])
def test_a_vendor_pool_fits_its_budget_at_each_steps_pace(pace: float, expected: int) -> None:
    limits = _limits({"crm": {"connector": "hubspot", "channel": "crm", "settings": {"requests_per_second": pace}}})
    assert limits["canalis_api_hubspot"] == expected
    budget = VENDOR_BUDGETS["hubspot"].requests_per_second
    assert pace == 0 or expected * pace <= budget


def test_the_fastest_connection_of_a_vendor_sizes_its_pool() -> None:
    limits = _limits(
        {
            "crm_a": {"connector": "hubspot", "channel": "crm", "settings": {"requests_per_second": 2}},
            "crm_b": {"connector": "hubspot", "channel": "crm", "settings": {"requests_per_second": 5}},
        }
    )
    assert limits["canalis_api_hubspot"] == 2


def test_the_connectors_default_pace_applies_when_the_connection_sets_none() -> None:
    limits = _limits({"crm": {"connector": "hubspot", "channel": "crm", "settings": {}}})
    assert limits["canalis_api_hubspot"] == 1  # HubSpot's 10/s budget at the connector's own 10/s


def test_a_vendor_without_a_per_second_budget_is_bounded_by_calls_in_flight() -> None:
    assert vendor_limit(VENDOR_BUDGETS["salesforce"], 20.0) == VENDOR_BUDGETS["salesforce"].concurrent_requests


def test_sources_without_an_api_get_one_pool_per_connection_and_serial_steps_one_slot() -> None:
    limits = _limits(
        {
            "shop_a": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}},
            "shop_b": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}},
        }
    )
    assert limits["canalis_shop_a"] == limits["canalis_shop_b"] == 1
    assert limits["canalis_canonical"] == limits["canalis_identity"] == limits["canalis_publish"] == 1
    assert read_pool("shop_a", "file_drop") == "canalis_shop_a"


def test_raw_assets_take_their_vendor_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", "token")
    config = parse_config(
        {
            "connections": {
                "crm": {"connector": "hubspot", "channel": "crm", "settings": {"base_url": "http://127.0.0.1:1"}},
                "shop": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}},
            }
        }
    )
    job = build_definitions(config).resolve_job_def("incremental_sync")
    pools = {node.name: node.definition.pool for node in job.nodes}
    raw = {name: pool for name, pool in pools.items() if name.startswith("raw__")}
    assert raw and all(pool == "canalis_api_hubspot" for name, pool in raw.items() if "__crm__" in name)
    assert all(pool == "canalis_shop" for name, pool in raw.items() if "__shop__" in name)
    assert {pool for name, pool in raw.items()} == {"canalis_api_hubspot", "canalis_shop"}


def test_each_written_connection_has_a_write_pool_sized_from_its_write_budget() -> None:
    limits = _limits(
        {
            "crm": {"connector": "hubspot", "channel": "crm", "settings": {"requests_per_second": 2}},
            "pos": {"connector": "square", "channel": "pos", "settings": {"requests_per_second": 2}},
        }
    )
    hubspot, square = VENDOR_BUDGETS["hubspot"], VENDOR_BUDGETS["square"]
    assert (
        limits["canalis_write_crm"]
        == write_limit(hubspot, 2.0)
        == min(hubspot.concurrent_writes, int(hubspot.writes_per_second // 2))
    )
    assert limits["canalis_write_pos"] == square.concurrent_writes  # one catalog update per seller at a time
    assert limits["canalis_write_crm"] * 2 <= hubspot.writes_per_second


def test_a_connection_that_is_not_written_has_no_write_pool() -> None:
    limits = _limits({"shop": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}})
    assert not [pool for pool in limits if pool.startswith("canalis_write_")]


def test_read_and_write_limits_are_sized_by_one_rule() -> None:
    assert budget_limit(None, 7, 3.0) == 7  # no per-second budget: calls in flight
    assert budget_limit(10, 10, 0.0) == 1  # an unpaced step takes the whole budget
    assert budget_limit(10, 3, 1.0) == 3  # never past the calls in flight
    assert budget_limit(10, 10, 4.0) == 2
    assert budget_limit(1, 2, 5.0) == 1  # at least one


def _instance_with_limit(tmp_path, pool: str, limit: int):
    from dagster import DagsterInstance

    instance = DagsterInstance.local_temp(str(tmp_path))
    instance.event_log_storage.set_concurrency_slots(pool, limit)
    return instance


def _run(instance):
    from dagster import DagsterRun

    return instance.add_run(DagsterRun(job_name="publish", run_id=uuid.uuid4().hex))


def test_a_writer_waits_for_a_free_slot_in_the_connections_write_pool(tmp_path) -> None:
    instance = _instance_with_limit(tmp_path, "canalis_write_crm", 1)
    first, second = _run(instance), _run(instance)
    waited: list[str] = []
    order: list[str] = []
    with write_slots(instance, first, "publish_apply", ["crm"]) as held:
        assert held == ["canalis_write_crm"]

        def other() -> None:
            with write_slots(instance, second, "publish_apply", ["crm"], waiting=waited.append, poll_seconds=0.05):
                order.append("second writes")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive() and waited == ["canalis_write_crm"]  # the pool's one slot is held
        order.append("first done")
    thread.join(timeout=60)
    assert order == ["first done", "second writes"]
    info = instance.event_log_storage.get_concurrency_info("canalis_write_crm")
    assert info.active_slot_count == 0 and info.pending_step_count == 0  # every slot given back
    instance.dispose()


def test_write_slots_leave_the_steps_own_pool_slot_alone(tmp_path) -> None:
    instance = _instance_with_limit(tmp_path, "canalis_publish", 1)
    instance.event_log_storage.set_concurrency_slots("canalis_write_crm", 2)
    run = _run(instance)
    status = instance.event_log_storage.claim_concurrency_slot("canalis_publish", run.run_id, "publish_apply")
    assert status.is_claimed
    with write_slots(instance, run, "publish_apply", ["crm", "crm"]):
        assert instance.event_log_storage.get_concurrency_info("canalis_write_crm").active_slot_count == 1
    assert instance.event_log_storage.get_concurrency_info("canalis_publish").active_slot_count == 1
    assert instance.event_log_storage.get_concurrency_info("canalis_write_crm").active_slot_count == 0
    instance.dispose()


def test_without_pool_limits_a_writer_never_waits(tmp_path) -> None:
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        run = _run(instance)
        with write_slots(instance, run, "publish_apply", ["crm", "shop"]) as held:
            assert held == ["canalis_write_crm", "canalis_write_shop"]
