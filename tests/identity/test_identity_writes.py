"""What incremental runs write (only changed rows), and the array helpers the writes and updates use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from canalis.identity.index import HashIndex
from canalis.identity.persistence import resolve_customers
from canalis.identity.records import IdentityRecord
from canalis.identity.tables import identity_links
from canalis.store.tables import customer_records, source_identities
from tests.identity.test_identity_persistence import CONFIG, PEOPLE, T0, create, row

_LINK = (
    identity_links.c.record_a, identity_links.c.record_b, identity_links.c.rule, identity_links.c.confidence,
    identity_links.c.status, identity_links.c.reason, identity_links.c.evidence,
)  # fmt: skip


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    pair = create(f"sqlite:///{tmp_path / 'incremental.db'}"), create(f"sqlite:///{tmp_path / 'full.db'}")
    yield pair
    for engine in pair:
        engine.dispose()


def _links(engine: sa.Engine) -> dict[tuple, tuple]:
    """(record_a, record_b, rule) -> (link_id, updated_at, the rest of the row)."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(identity_links.c.link_id, identity_links.c.updated_at, *_LINK)).all()
    return {(a, b, rule): (link_id, at, rest) for link_id, at, a, b, rule, *rest in rows}


def _assignments(engine: sa.Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(source_identities)).all()
    return {r.record_key: (r.match_rule, r.confidence, r.updated_at) for r in rows}


def _partition(engine: sa.Engine) -> set[frozenset[str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(source_identities.c.customer_id, source_identities.c.record_key)).all()
    groups: dict[str, set[str]] = {}
    for customer, key in rows:
        groups.setdefault(customer, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


def test_incremental_run_writes_only_changed_links_and_assignments(engines: tuple[sa.Engine, sa.Engine]) -> None:
    incremental, full = engines
    changed = row("shop", "B", given_name="Bruno", family_name="Lemaire", email="bruno.lemaire@orange.fr",
                  phone="+33622222222")  # fmt: skip
    people = [changed if p["record_key"] == changed["record_key"] else p for p in PEOPLE]
    with incremental.begin() as connection:
        connection.execute(sa.insert(customer_records), PEOPLE)
    resolve_customers(incremental, config=CONFIG, now=T0)
    before, assigned_before = _links(incremental), _assignments(incremental)
    with incremental.begin() as connection:
        connection.execute(sa.delete(customer_records).where(customer_records.c.record_key == changed["record_key"]))
        connection.execute(sa.insert(customer_records), [changed])
    later = T0 + timedelta(hours=1)
    report = resolve_customers(incremental, config=CONFIG, now=later)
    assert report.records_read == 1
    after, assigned_after = _links(incremental), _assignments(incremental)

    # The same links as a full resolution of the changed records: key links to the letter, scored links
    # as pairs and statuses (a full run learns its own model, so their probabilities differ a little).
    with full.begin() as connection:
        connection.execute(sa.insert(customer_records), people)
    resolve_customers(full, config=CONFIG, now=later)
    expected = _links(full)
    assert after.keys() == expected.keys()
    for key, (_, _, rest) in after.items():
        assert (rest if key[2] != "probabilistic" else rest[1:3]) == (
            expected[key][2] if key[2] != "probabilistic" else expected[key][2][1:3]
        ), key
    assert _partition(incremental) == _partition(full)

    # Links that did not change keep their row (id and time); the new email link is new.
    kept = [k for k in after if k in before and before[k][2] == after[k][2]]
    assert kept and all(after[k][:2] == before[k][:2] for k in kept)
    fresh = [k for k in after if k not in before]
    assert fresh and all(after[k][1] == later.replace(tzinfo=None) or after[k][1] == later for k in fresh)
    assert ("crm:customers:2", "shop:customers:B", "email") in fresh
    # Claire's records were not touched: their assignments keep their time.
    assert assigned_after["crm:customers:1"] == assigned_before["crm:customers:1"]
    assert assigned_after["shop:customers:B"][2] != assigned_before["shop:customers:B"][2]


def test_hash_index_finds_rows_added_later_in_bulk_lookups() -> None:
    index = HashIndex(np.array([5, 7, 5]), np.array([0, 1, 2]))
    index.add(7, 3)
    index.add(9, 4)
    query, rows = index.lookup_many(np.array([9, 5, 7, 11]))
    assert sorted(zip(query.tolist(), rows.tolist(), strict=True)) == [(0, 4), (1, 0), (1, 2), (2, 1), (2, 3)]
    index.add(11, 5)  # added after a lookup: the next lookup sees it
    query, rows = index.lookup_many(np.array([11]))
    assert rows.tolist() == [5]


def test_records_from_mappings_with_other_key_sets_are_read_each_their_way() -> None:
    first = IdentityRecord.from_mapping({"source": "crm", "source_id": "1", "email": "", "mail": "a@b.fr"})
    other = IdentityRecord.from_mapping({"Source": "crm", "Source ID": 2, "E-Mail": "c@d.fr", "surname": "Roy"})
    again = IdentityRecord.from_mapping({"source": "crm", "source_id": "3", "email": "e@f.fr", "mail": "x@y.fr"})
    assert (first.email, other.email, other.source_id, other.family_name) == ("a@b.fr", "c@d.fr", "2", "Roy")
    assert again.email == "e@f.fr"
    with pytest.raises(ValueError):
        IdentityRecord.from_mapping({"source": "crm", "source_id": ""})
