"""Incremental consistency passes: the customer rules look again only at customers whose data changed.

After each incremental pass a full pass must find nothing to open or close: the incremental one left the
inconsistencies as a full check of every customer would have.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from canalis.consistency import ConsistencySettings, check_consistency, inconsistencies
from canalis.store import tables

LATER = timedelta(hours=1)


def _open(store) -> dict[str, int]:
    """Open inconsistencies as {entity_key/code: occurrences}."""
    t = inconsistencies
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.c.entity_key, t.c.code, t.c.occurrences).where(t.c.status == "open")).all()
    return {f"{key}/{code}": occurrences for key, code, occurrences in rows}


def _full_pass_agrees(store, now) -> None:
    report = check_consistency(store, ConsistencySettings(), now=now, full=True)
    assert report.lifecycle.opened == [] and report.lifecycle.closed == []


def _edit(store, record_key: str, stamp, **values) -> None:
    r = tables.customer_records
    with store.begin() as conn:
        conn.execute(update(r).where(r.c.record_key == record_key).values(loaded_at=stamp, **values))


def _conflicted(canon, customer_id: str, first_phone: str, second_phone: str) -> tuple[str, str]:
    a = canon.customer(customer_id, "crm", f"{customer_id}-a", given_name="Léa", family_name="Martin",
                       phone=first_phone, birth_date=date(1980, 5, 2))  # fmt: skip
    b = canon.customer(customer_id, "pos", f"{customer_id}-b", given_name="Léa", family_name="Martin",
                       phone=second_phone, birth_date=date(1980, 5, 2))  # fmt: skip
    return a, b


def test_an_incremental_pass_checks_only_the_customers_that_changed(cstore, canon, now) -> None:
    _, fixed = _conflicted(canon, "cu_1", "+33612345678", "+33698765432")
    _conflicted(canon, "cu_2", "+33611111111", "+33622222222")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)
    assert _open(cstore) == {"cu_1/customer_attribute_conflict": 1, "cu_2/customer_attribute_conflict": 1}

    _edit(cstore, fixed, now + LATER, phone="+33612345678")
    report = check_consistency(cstore, ConsistencySettings(), now=now + LATER, full=False)

    assert report.customers_checked == 1
    assert report.lifecycle.counts()["closed"] == 1
    assert _open(cstore) == {"cu_2/customer_attribute_conflict": 1}  # kept as it was, not seen again
    _full_pass_agrees(cstore, now + 2 * LATER)


def test_nothing_changed_checks_no_customer(cstore, canon, now) -> None:
    _conflicted(canon, "cu_1", "+33612345678", "+33698765432")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)

    report = check_consistency(cstore, ConsistencySettings(), now=now + LATER, full=False)

    assert report.customers_checked == 0
    assert report.lifecycle.counts() == {"opened": 0, "still_open": 0, "closed": 0, "reopened": 0}
    assert _open(cstore) == {"cu_1/customer_attribute_conflict": 1}


def test_a_customer_sharing_a_phone_with_a_changed_one_is_checked_again(cstore, canon, now) -> None:
    shop = "+33142723100"
    canon.customer("cu_1", "crm", "1", phone="+33612345678")
    canon.customer("cu_1", "pos", "a", phone=shop)
    canon.customer("cu_2", "crm", "2", phone="+33698765432")
    moved = canon.customer("cu_2", "pos", "b", phone="+33655555555")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)
    assert set(_open(cstore)) == {"cu_1/customer_attribute_conflict", "cu_2/customer_attribute_conflict"}

    _edit(cstore, moved, now + LATER, phone=shop)  # now the shop's number: held by two customers, nobody's
    report = check_consistency(cstore, ConsistencySettings(), now=now + LATER, full=False)

    assert report.customers_checked == 2
    assert _open(cstore) == {}
    _full_pass_agrees(cstore, now + 2 * LATER)


def test_the_findings_of_a_customer_merged_away_close(cstore, canon, now) -> None:
    first, second = _conflicted(canon, "cu_1", "+33612345678", "+33698765432")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)

    s = tables.source_identities
    with cstore.begin() as conn:
        conn.execute(
            update(s).where(s.c.record_key.in_([first, second])).values(customer_id="cu_9", updated_at=now + LATER)
        )
    check_consistency(cstore, ConsistencySettings(), now=now + LATER, full=False)

    assert _open(cstore) == {"cu_9/customer_attribute_conflict": 1}
    _full_pass_agrees(cstore, now + 2 * LATER)


def test_a_new_consent_is_seen_by_an_incremental_pass(cstore, canon, now) -> None:
    crm = canon.customer("cu_1", "crm", "1", email="lea@example.fr")
    shop = canon.customer("cu_1", "web", "1", email="lea@example.fr")
    canon.consent(crm, "granted")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)
    assert _open(cstore) == {}

    canon.consent(shop, "denied")
    c = tables.consents
    with cstore.begin() as conn:
        conn.execute(update(c).where(c.c.record_key == shop).values(updated_at=now + LATER))
    check_consistency(cstore, ConsistencySettings(), now=now + LATER, full=False)

    assert _open(cstore) == {"cu_1/consent_conflict": 1}
    _full_pass_agrees(cstore, now + 2 * LATER)


def test_other_settings_make_the_next_pass_check_every_customer(cstore, canon, now) -> None:
    _conflicted(canon, "cu_1", "+33612345678", "+33698765432")
    check_consistency(cstore, ConsistencySettings(), now=now, full=True)

    other = ConsistencySettings(compare_attributes=["birth_date", "email", "name"])
    report = check_consistency(cstore, other, now=now + LATER, full=False)

    assert report.customers_checked is None
    assert _open(cstore) == {}  # the phones are no longer compared: the conflict closes without any change
