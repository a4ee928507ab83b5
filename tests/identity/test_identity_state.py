"""The saved engine state in pieces: cut at record boundaries, joined back byte for byte, rewritten only where it
changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from canalis.identity import state
from canalis.identity.engine import IdentityEngine
from canalis.identity.persistence import _load_state, resolve_customers
from canalis.identity.tables import identity_runs, identity_state
from canalis.store.tables import customer_records
from tests.identity.test_identity_persistence import CONFIG, PEOPLE, T0, create, row


def _parts(rows: int) -> dict:
    rng = np.random.default_rng(rows)
    return {
        "codes": rng.integers(0, 1 << 40, rows),
        "flags": rng.random(rows) > 0.5,
        "names": [f"name-{i}-" + "é" * (i % 4) for i in range(rows)],
        "pairs": [(f"a{i}", f"b{i}") for i in range(rows)],
        "empty": np.zeros(0, dtype=np.int32),
        "none": [],
        "model": {"m": [0.9, 0.1], "note": "x" * rows},
    }


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "ROWS_PER_PIECE", 7)
    monkeypatch.setattr(state, "PIECE_BYTES", 50)


def _equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, b[name]) and value.dtype == b[name].dtype, name
        else:
            assert value == b[name], name


@pytest.mark.parametrize("rows", [0, 1, 7, 8, 100])
def test_pieces_join_back_to_the_same_bytes(small_pieces: None, rows: int) -> None:
    parts = _parts(rows)
    data = state.encode(parts)
    found = state.pieces(data)
    assert all(len(p.data) <= state.PIECE_BYTES for p in found if p.name != state.HEADER)
    joined = state.join({(p.name, p.index): bytes(p.data) for p in found})
    assert joined == data
    _equal(state.decode(joined), parts)
    if rows == 100:  # cut every 7 records (56 bytes: 50 and 6), then 2 records left
        codes = [p for p in found if p.name == "codes"]
        assert len(codes) == 100 // 7 * 2 + 1 and sum(len(p.data) for p in codes) == 800


def test_a_changed_value_changes_only_its_pieces(small_pieces: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "PIECE_BYTES", 1000)  # one piece per 7 records
    parts = _parts(100)
    before = {(p.name, p.index): p.digest for p in state.pieces(state.encode(parts))}
    parts["names"][50] = "a longer name than before"
    parts["codes"][3] += 1
    after = {(p.name, p.index): p.digest for p in state.pieces(state.encode(parts))}
    assert after.keys() == before.keys()
    changed = {key for key in after if after[key] != before[key]}
    name_pieces = {key for key in changed if key[0] == "names"}
    assert name_pieces == {("names", 50 // 7)} and (state.HEADER, 0) in changed
    assert {key for key in changed if key[0] == "codes"} == {("codes", 0)}
    assert changed <= name_pieces | {("codes", 0), (state.HEADER, 0)}


def test_join_refuses_a_missing_piece(small_pieces: None) -> None:
    found = {(p.name, p.index): bytes(p.data) for p in state.pieces(state.encode(_parts(30)))}
    del found[("names", 1)]
    with pytest.raises(ValueError, match="incomplete"):
        state.join(found)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


def test_an_incremental_run_rewrites_only_the_pieces_that_changed(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(customer_records), PEOPLE)
    resolve_customers(engine, config=CONFIG, now=T0)
    with engine.begin() as connection:
        changed = row("pos", "8", given_name="Inès", family_name="Haddad", phone="+33633333333", city="Brest")
        connection.execute(
            sa.update(customer_records)
            .where(customer_records.c.record_key == changed["record_key"])
            .values(city="Brest", content_hash=changed["content_hash"])
        )
    resolve_customers(engine, config=CONFIG, now=T0 + timedelta(hours=1))
    with engine.connect() as connection:
        runs = identity_runs.c.run_id
        first, last = connection.execute(sa.select(sa.func.min(runs), sa.func.max(runs))).one()
        query = sa.select(identity_state.c.name, identity_state.c.run_id).where(identity_state.c.piece == 0)
        written = {name: run for name, run in connection.execute(query)}
        restored = IdentityEngine.from_state(_load_state(connection), CONFIG)
    assert written["frame.city"] == last and written[state.HEADER] == last
    assert (
        written["frame.email"] == written["frame.given"] == written["frame.key"] == first
    )  # untouched columns are not rewritten
    assert restored.frame.city[restored.row_of[changed["record_key"]]] == "brest"
