"""Pools: one per vendor API sized from its documented budget and each step's pace; raw assets use them."""

from __future__ import annotations

import pytest

from canalis.assets.build import build_definitions
from canalis.config.connections import parse_config
from canalis.connectors.registry import discover
from canalis.deploy.pools import VENDOR_BUDGETS, pool_limits, read_pool, vendor_limit


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
