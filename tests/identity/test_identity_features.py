"""Record features: the column-wise extraction of a frame gives what extracting each record alone gives."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from identity_synth import make_world

from canalis.identity import IdentityConfig, IdentityRecord
from canalis.identity.features import COLUMNS, Frame, extract


def odd_records() -> list[IdentityRecord]:
    """Records that take the less common paths: other countries, unknown regions, bad values, external ids."""
    return [
        IdentityRecord("crm", " 7 ", given_name="  Jean-Pierre ", family_name="de la Fontaine", country="Belgique",
                       postcode="1000", phone="+32 2 555 12 34", external_ids={"erp": " E1 ", "crm": "7"}),
        IdentityRecord("erp", "E1", given_name="JEAN PIERRE", family_name="FONTAINE", country="",
                       postcode="SW1A 1AA", phone="020 7946 0018", email="Jean.Pierre+news@GMAIL.com"),
        IdentityRecord("pos", "1", family_name="Ng", birth_date=date(1850, 1, 1), loyalty_id="fid-0012 34",
                       email="not an email", phone="12", street="12, av. Victor-Hugo", city="ST-ETIENNE CEDEX 2"),
        IdentityRecord("pos", "2", given_name="Zoé", birth_date=date(2999, 1, 1), phone="0033 6 12 34 56 78",
                       updated_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC), country="GB", postcode="75011"),
        IdentityRecord("web", "3", object="contacts"),
    ]  # fmt: skip


@pytest.mark.parametrize("region", [None, "FR", "", "GB"])
def test_frame_columns_match_record_by_record_extraction(region: str | None) -> None:
    config = IdentityConfig()
    records = make_world(people=150, seed=3).records + odd_records()
    frame = Frame.from_records(records, config, region)
    rows = [extract(record, config, frame.region) for record in records]
    for i, name in enumerate(COLUMNS):
        assert getattr(frame, name) == [row[i] for row in rows], name
    assert len(frame) == len(records)


def test_frame_of_no_records_is_empty() -> None:
    frame = Frame.from_records([], IdentityConfig())
    assert len(frame) == 0
    assert all(getattr(frame, name) == [] for name in COLUMNS)
