"""Repeat contacts across channels and first-contact resolution, on contacts worked out by hand."""

from __future__ import annotations

from datetime import timedelta

from kpi_world import Canonical, day

from canalis.kpis import KpiSettings, service_kpis
from canalis.kpis.service import ContactReader
from canalis.store import Store


def _world(store: Store) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        for customer in ("A", "B", "C"):
            w.customer(customer, f"crm:contacts:{customer}")
        # A: a complaint by email, then a complaint call two days later (a repeat: complaint again)
        w.interaction(
            "A",
            "email",
            "ticket",
            day(0),
            thread_key="hs:1",
            status="closed",
            subject="Colis reçu endommagé",
            is_complaint=True,
        )
        w.interaction(
            "A", "crm", "call", day(2), thread_key="sf:c1", status="completed", subject="Appel entrant - réclamation"
        )
        # A: an email about order #1042, then a phone ticket about the invoice of that order (a repeat: same order)
        w.interaction(
            "A", "email", "email", day(20), thread_key="ws:9", status="closed", subject="Where is my order #1042?"
        )
        w.interaction(
            "A", "phone", "ticket", day(23), thread_key="hs:4", status="closed", subject="Facture pour la commande 1042"
        )
        # A writes again in the mail thread (same channel), support answers last
        w.interaction("A", "email", "email", day(24), thread_key="ws:9", status="received", subject="Re: any news?")
        w.interaction("A", "email", "email", day(24.1), thread_key="ws:9", status="sent", subject="Re: any news?")
        # an outbound mail only: no customer contact, no thread
        w.interaction("A", "email", "email", day(40), thread_key="ws:77", status="sent", subject="Newsletter")
        # B: size question, same family ten days later on chat (outside the window), then a return (other family)
        w.interaction("B", "crm", "case", day(0), thread_key="sf:b1", status="closed", subject="Question sur la taille")
        w.interaction("B", "chat", "ticket", day(10), thread_key="hs:b2", status="closed", subject="Taille sneakers")
        w.interaction("B", "form", "ticket", day(11), thread_key="hs:b3", status="new", subject="Retour produit")
        # C: delivery problem by email, then by phone exactly seven days later (a repeat: same subject family)
        w.interaction("C", "email", "email", day(0), thread_key="x:1", status="closed", subject="Problème de livraison")
        w.interaction("C", "phone", "ticket", day(7), thread_key="x:2", status="closed", subject="Livraison en retard")
        # not contacts: a campaign, an order; and a contact nobody was matched to
        w.interaction("C", "marketing", "campaign_event", day(1), status="clicks", subject="Soldes")
        w.interaction("C", "web", "order", day(1), subject="#1042")
        w.interaction(None, "email", "email", day(1), status="received", subject="Hello")


def test_repeat_contacts_on_another_channel(kpi_store: Store, settings: KpiSettings) -> None:
    _world(kpi_store)
    with kpi_store.engine.connect() as conn:
        report = service_kpis(conn, settings)

    # contacts by customers (outbound mails left out): A 5, B 3, C 2
    assert report.contacts == 10
    assert report.unidentified_contacts == 1
    assert report.customers_with_contacts == 3
    # repeats: A's call (complaint again), A's phone ticket (order 1042), C's phone ticket (delivery, day 7)
    assert report.repeat_contacts == 3
    assert report.repeat_rate == 0.3
    assert report.same_channel_repeats == 1  # A writing again in the mail thread
    assert report.customers_who_repeated == 2
    assert report.repeats_by_reason == {"complaint again": 1, "same order": 1, "same subject family": 1}
    assert report.repeats_by_channels == {"email -> phone": 3}
    assert report.contacts_by_channel == {"email": 4, "phone": 3, "crm": 1, "chat": 1, "form": 1}
    assert report.repeats_by_channel == {"phone": 3}
    assert {example["customer_id"] for example in report.examples} == {"A", "C"}


def test_first_contact_resolution(store: Store, settings: KpiSettings) -> None:
    _world(store)
    with store.engine.connect() as conn:
        report = service_kpis(conn, settings)

    # threads with a customer contact: A hs:1 sf:c1 ws:9 hs:4, B sf:b1 hs:b2 hs:b3, C x:1 x:2
    assert report.threads == 9
    assert report.open_threads == 1  # hs:b3 is new
    assert report.resolved_threads == 8
    # at first contact: only B's size question and B's chat; A's and C's threads repeat or are repeated,
    # A's mail thread has two customer messages
    assert report.first_contact_resolved == 2
    assert report.fcr_rate == 0.25
    assert report.resolved_by_channel == {"email": 3, "phone": 3, "crm": 1, "chat": 1}
    assert report.first_contact_by_channel == {"crm": 1, "chat": 1}


def test_window_setting(store: Store) -> None:
    _world(store)
    with store.engine.connect() as conn:
        short = service_kpis(conn, KpiSettings(repeat_window_days=6))
        long = service_kpis(conn, KpiSettings(repeat_window_days=10))
    # six days: C's phone ticket (day 7) is no repeat any more
    assert short.repeat_contacts == 2
    # ten days: B's chat (day 10) repeats the size question (crm -> chat)
    assert long.repeat_contacts == 4
    assert long.repeats_by_channels["crm -> chat"] == 1


def test_no_contacts(store: Store, settings: KpiSettings) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("A", "crm:contacts:A")
        w.interaction("A", "web", "order", day(0))
    with store.engine.connect() as conn:
        report = service_kpis(conn, settings)
    assert (report.contacts, report.threads, report.repeat_rate, report.fcr_rate) == (0, 0, None, None)
    assert report.repeat_rows() == [] and report.fcr_rows() == []


def test_same_channel_follow_up_is_no_cross_channel_repeat(store: Store, settings: KpiSettings) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("A", "crm:contacts:A")
        w.interaction("A", "phone", "ticket", day(0), thread_key="t1", status="closed", subject="Where is my order?")
        w.interaction(
            "A",
            "crm",
            "call",
            day(1) + timedelta(hours=1),
            thread_key="t2",
            status="completed",
            subject="Call - order follow-up",
        )
    with store.engine.connect() as conn:
        report = service_kpis(conn, settings)
    # both on the phone (a call is a phone contact wherever it is recorded), same family: a follow-up, not a repeat
    assert (report.repeat_contacts, report.same_channel_repeats) == (0, 1)
    assert report.first_contact_resolved == 0


def test_subject_families_and_order_references(settings: KpiSettings) -> None:
    reader = ContactReader(settings)
    assert reader.family("Colis reçu ENDOMMAGÉ") == "damaged_or_wrong_item"
    assert reader.family("Still waiting for my refund") == "refund_or_return"
    assert reader.family("Appel entrant - réclamation") == "complaint"
    assert reader.family("Appel sortant - rappel client") is None
    assert reader.order_reference("Where is my order #1042?", None) == "1042"
    assert reader.order_reference("Commande n° S00006 en retard", None) == "S00006"
    assert reader.order_reference("Question", {"order_ref": "#ab12"}) == "AB12"
    assert reader.order_reference("Size 42 please", {}) is None
