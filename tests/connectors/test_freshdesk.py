"""The Freshdesk connector, declared in YAML: it passes the conformance suite on recorded answers, reads the whole
sandbox help desk (paged, incrementally, through faults), and its mapping turns what it reads into customers,
tickets and satisfaction scores."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.registry import discover
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sandbox.emulators.freshdesk import API_KEY, FreshdeskEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk import ConfigError, StreamState, load_settings
from canalis.testing import connector_test_class

FRESHDESK = discover(include_plugins=False)["freshdesk"].connector
STREAMS = ("contacts", "tickets", "satisfaction_ratings")

TestFreshdeskConformance = connector_test_class(
    FRESHDESK,
    settings={"domain": "acme", "api_key": "test-freshdesk-key", "page_size": 2, "requests_per_second": 0},
    responses=Path(__file__).parent / "freshdesk_responses",
)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("freshdesk-e2e")
    generate_world(WorldSpec(seed=9, customers=200), data_dir)
    return data_dir


@pytest.fixture
def data_dir(world_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sandbox"
    target.mkdir()
    shutil.copyfile(store_path(world_dir), store_path(target))
    return target


def connector(server: SandboxServer, **values: Any) -> Any:
    settings = load_settings(
        FRESHDESK.settings_model,
        {"base_url": server.url("freshdesk") + "/api/v2", "page_size": 7, "lookback_minutes": 0, **values},
        connection="support_freshdesk",
        environ={"CANALIS_FRESHDESK_API_KEY": API_KEY},
    )
    # no real waits: the rate limit and the Retry-After of throttled calls are waited virtually
    return FRESHDESK(settings, connection="support_freshdesk", sleep=lambda seconds: None)


def read_all(conn: Any, stream: str, state: StreamState | None = None) -> tuple[list[dict[str, Any]], Any]:
    pages = list(conn.read(stream, state))
    assert not [item for page in pages for item in page.rejected]
    return [record for page in pages for record in page.records], pages[-1].state


def world(data_dir: Path, object_type: str) -> dict[str, dict[str, Any]]:
    with ObjectStore(store_path(data_dir)) as store:
        return {item.object_id: item.payload for item in store.iter_all("freshdesk", object_type)}


def test_every_stream_reads_the_whole_help_desk_in_pages_and_then_only_what_changed(data_dir: Path) -> None:
    with SandboxServer(data_dir, emulators=[FreshdeskEmulator]) as server, connector(server) as conn:
        assert conn.check().ok
        for stream in STREAMS:
            expected = world(data_dir, stream)
            records, state = read_all(conn, stream)
            assert len(expected) > 7, stream  # more than one page
            assert sorted(str(r["id"]) for r in records) == sorted(expected), stream
            again, _ = read_all(conn, stream, state)
            field = "created_at" if stream == "satisfaction_ratings" else "updated_at"
            newest = max(r[field] for r in records)
            assert again and all(r[field] == newest for r in again), stream  # only what sits at the cursor


def test_throttling_server_errors_and_dropped_connections_lose_nothing(data_dir: Path) -> None:
    expected = sorted(world(data_dir, "tickets"))
    faults = "freshdesk:429=0.15,500=0.1,drop=0.05"
    with SandboxServer(data_dir, faults=faults, emulators=[FreshdeskEmulator]) as server, connector(server) as conn:
        records, _ = read_all(conn, "tickets")
        assert conn.http.stats.retries > 0
    assert sorted(str(r["id"]) for r in records) == expected


def test_a_refused_key_and_a_missing_domain_name_their_setting(data_dir: Path) -> None:
    with SandboxServer(data_dir, emulators=[FreshdeskEmulator]) as server:
        settings = load_settings(
            FRESHDESK.settings_model,
            {"base_url": server.url("freshdesk") + "/api/v2"},
            connection="support_freshdesk",
            environ={"CANALIS_FRESHDESK_API_KEY": "wrong-key"},
        )
        with pytest.raises(ConfigError) as refused, FRESHDESK(settings, connection="support_freshdesk") as conn:
            conn.check()
    assert refused.value.setting == "api_key" and "CANALIS_FRESHDESK_API_KEY" in str(refused.value)
    assert "wrong-key" not in str(refused.value)
    unset = load_settings(
        FRESHDESK.settings_model, {}, connection="support", environ={"CANALIS_FRESHDESK_API_KEY": "k"}
    )
    with pytest.raises(ConfigError, match=r"setting 'domain' \(CANALIS_FRESHDESK_DOMAIN\) is needed to build"):
        FRESHDESK(unset, connection="support").check()


def test_the_mapping_gives_customers_tickets_with_complaints_and_satisfaction_scores(data_dir: Path) -> None:
    mapper = Mapper(load_mapping(FRESHDESK.mapping_path()), connection="support_freshdesk", channel="support")
    with SandboxServer(data_dir, emulators=[FreshdeskEmulator]) as server, connector(server) as conn:
        mapped = {
            stream: [m for r in read_all(conn, stream)[0] for m in mapper.map_record(stream, r)] for stream in STREAMS
        }
    people = [m.record for m in mapped["contacts"]]
    assert people and all(p.source_id and (p.email or p.phone) for p in people)
    tickets = [m.record for m in mapped["tickets"]]
    complaints = {t.source_id for t in tickets if t.is_complaint}
    expected = {key for key, t in world(data_dir, "tickets").items() if t["type"] == "Réclamation"}
    assert complaints == expected and complaints
    assert {t.channel for t in tickets} <= {"email", "web", "phone", "chat"}
    scores = [m.record.satisfaction_score for m in mapped["satisfaction_ratings"]]
    assert scores and set(scores) <= {1, 2, 3, 4, 5}


def test_contacts_and_tickets_are_fetched_by_id_through_their_declared_record_path(data_dir: Path) -> None:
    with SandboxServer(data_dir, emulators=[FreshdeskEmulator]) as server, connector(server) as conn:
        for stream in ("contacts", "tickets"):
            read = {str(record["id"]): record for record in read_all(conn, stream)[0]}
            wanted = sorted(read)[:3]
            assert conn.fetches_by_id(stream)
            found = list(conn.read_records_by_id(stream, [*wanted, "999999999"]))
            assert sorted(str(record["id"]) for record in found) == wanted, stream
            assert all(record == read[str(record["id"])] for record in found), stream
        assert not conn.fetches_by_id("satisfaction_ratings")
