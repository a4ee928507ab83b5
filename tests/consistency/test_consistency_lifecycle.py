"""Lifecycle of inconsistencies: opened, seen again, closed, reopened; listing and settings."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from canalis.consistency import (
    Finding,
    check_consistency,
    inconsistencies,
    inconsistency_id,
    list_inconsistencies,
    load_consistency_settings,
    record_findings,
    render_table,
)
from canalis.sdk.errors import ConfigError

PRICE = Finding("price_mismatch", "product", "A-1", ["web", "erp"], {"shown": "9"}, "error")
DUPLICATE = Finding("duplicate_in_channel", "customer", "cu_1", ["shop"], {}, "warn")


def _record(store, findings, run_id, at, **options):
    with store.begin() as conn:
        return record_findings(conn, findings, run_id, at, **options)


def _row(store, finding):
    with store.engine.connect() as conn:
        query = select(inconsistencies).where(inconsistencies.c.inconsistency_id == inconsistency_id(*finding.identity))
        return conn.execute(query).one()


def test_open_still_open_close_and_reopen(cstore, now) -> None:
    hour = timedelta(hours=1)
    first = _record(cstore, [PRICE, DUPLICATE], "r1", now)
    assert len(first.opened) == 2 and not first.still_open and not first.closed
    second = _record(cstore, [PRICE], "r2", now + hour)
    price_id, duplicate_id = inconsistency_id(*PRICE.identity), inconsistency_id(*DUPLICATE.identity)
    assert (second.opened, second.still_open, second.closed) == ([], [price_id], [duplicate_id])
    row = _row(cstore, DUPLICATE)
    assert (row.status, row.closed_run_id, row.closed_at, row.occurrences) == ("closed", "r2", now + hour, 1)
    row = _row(cstore, PRICE)
    assert (row.status, row.occurrences, row.first_seen_at, row.last_seen_at) == ("open", 2, now, now + hour)
    third = _record(cstore, [PRICE, DUPLICATE], "r3", now + 2 * hour)
    assert third.opened == [duplicate_id] and third.reopened == [duplicate_id] and third.still_open == [price_id]
    row = _row(cstore, DUPLICATE)
    assert (row.status, row.reopened, row.occurrences, row.first_seen_at) == ("open", 1, 2, now)
    assert (row.opened_at, row.opened_run_id, row.closed_at) == (now + 2 * hour, "r3", None)


def test_the_channel_set_is_part_of_the_identity_and_its_order_is_not(cstore, now) -> None:
    swapped = Finding("price_mismatch", "product", "A-1", ["erp", "web"], {}, "error")
    other = Finding("price_mismatch", "product", "A-1", ["erp", "pos"], {}, "error")
    assert inconsistency_id(*PRICE.identity) == inconsistency_id(*swapped.identity)
    report = _record(cstore, [PRICE, swapped, other], "r1", now)
    assert len(report.opened) == 2


def test_rules_that_did_not_run_close_nothing(cstore, now) -> None:
    _record(cstore, [PRICE, DUPLICATE], "r1", now)
    report = _record(cstore, [], "r2", now, evaluated_codes=["price_mismatch"])
    assert report.closed == [inconsistency_id(*PRICE.identity)]
    assert _row(cstore, DUPLICATE).status == "open"


def test_listing_and_table(cstore, now) -> None:
    _record(cstore, [PRICE, DUPLICATE], "r1", now)
    _record(cstore, [DUPLICATE], "r2", now)
    rows = list_inconsistencies(cstore, open_only=False)
    assert [(row["code"], row["status"]) for row in rows] == [
        ("duplicate_in_channel", "open"),
        ("price_mismatch", "closed"),
    ]
    assert rows[0]["first_seen_at"] == now.isoformat()
    assert json.loads(json.dumps(rows)) == rows  # ready for `--json`
    assert [row["code"] for row in list_inconsistencies(cstore, open_only=True)] == ["duplicate_in_channel"]
    text = render_table(rows)
    assert "price_mismatch" in text and "erp, web" in text and text.endswith("2 inconsistencies, 1 open")
    assert render_table([]) == "No inconsistencies."


def test_check_consistency_runs_and_records(cstore, canon, now) -> None:
    canon.customer("cu_1", "shop", "a")
    canon.customer("cu_1", "shop", "b")
    settings = load_consistency_settings({"disabled_rules": ["consent_conflict"]})
    report = check_consistency(cstore, settings, run_id="r1", now=now)
    assert "consent_conflict" not in report.rules_run
    assert report.by_code()["duplicate_in_channel"] == 1 and report.by_code()["price_mismatch"] == 0
    assert len(report.lifecycle.opened) == 1


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"price_tolerance": -1}, "consistency.price_tolerance"),
        ({"severities": {"price_mismatch": "fatal"}}, "consistency.severities.price_mismatch"),
        ({"disabled_rules": ["no_such_rule"]}, "consistency.disabled_rules"),
        ({"severities": {"no_such_rule": "warn"}}, "consistency.severities"),
        ({"colour": "blue"}, "consistency.colour"),
    ],
)
def test_settings_errors_name_the_field(section, field) -> None:
    with pytest.raises(ConfigError) as error:
        load_consistency_settings(section)
    assert error.value.setting == field
    assert field in str(error.value)


def test_a_customer_inconsistency_keeps_its_row_when_the_channels_involved_change(cstore, now) -> None:
    before = Finding("complaint_targeted_by_promotion", "customer", "cu_7", ["crm", "shop", "mail"], {}, "warn")
    after = Finding("complaint_targeted_by_promotion", "customer", "cu_7", ["crm", "shop"], {}, "warn")
    _record(cstore, [before], "r1", now)
    second = _record(cstore, [after], "r2", now + timedelta(hours=1))
    assert second.opened == [] and second.closed == [] and len(second.still_open) == 1
    assert _row(cstore, after).channels == ["crm", "shop"]
    price_elsewhere = Finding("price_mismatch", "product", "A-1", ["pos", "erp"], {}, "error")
    third = _record(cstore, [after, PRICE, price_elsewhere], "r3", now + timedelta(hours=2))
    assert len(third.opened) == 2  # a price is one inconsistency per channel
