"""Salesforce: Accounts, Contacts, service Cases, call Tasks, Product2 and the standard pricebook."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.world.catalog import money
from canalis.sandbox.world.context import (
    WorldContext,
    complaint_may_stay_open,
    moment_between,
    opted_out_in,
)
from canalis.sandbox.world.formats import iso_date, salesforce_datetime
from canalis.sandbox.world.ids import salesforce_id
from canalis.sandbox.world.people import Company, Person, Weighted, stable_rng
from canalis.sandbox.world.texts import CALL_SUBJECTS, COMPLAINT_SUBJECTS, QUESTION_SUBJECTS
from canalis.sandbox.world.variations import copy_for

SYSTEM = "salesforce"
IDENTITY_TYPE = "Contact"
API_VERSION = "v60.0"
OWNER_ID = salesforce_id("User", 1)
PRICEBOOK_ID = salesforce_id("Pricebook2", 1)
CASE_COUNTS: Weighted[int] = Weighted((0, 1, 2), (65, 25, 10))
CALL_COUNTS: Weighted[int] = Weighted((0, 1, 2, 3), (60, 25, 10, 5))
BUCKET_ACCOUNTS = ("Clients particuliers", "Clients particuliers - Boutiques", "Clients web")


def _record(
    sobject: str, record_id: str, created: datetime, updated: datetime, fields: dict[str, Any]
) -> dict[str, Any]:
    return {
        "attributes": {"type": sobject, "url": f"/services/data/{API_VERSION}/sobjects/{sobject}/{record_id}"},
        "Id": record_id,
        **fields,
        "IsDeleted": False,
        "CreatedDate": salesforce_datetime(created),
        "CreatedById": OWNER_ID,
        "LastModifiedDate": salesforce_datetime(updated),
        "LastModifiedById": OWNER_ID,
        "SystemModstamp": salesforce_datetime(updated),
    }


def _new_id(ctx: WorldContext, sobject: str) -> str:
    return salesforce_id(sobject, ctx.counters.next(SYSTEM, sobject))


def emit_catalog(ctx: WorldContext) -> None:
    """The standard pricebook, products, pricebook entries and the bucket accounts for private customers."""
    catalog, now = ctx.catalog, ctx.now
    opened = now - timedelta(days=1200)
    ctx.add(
        SYSTEM,
        "Pricebook2",
        PRICEBOOK_ID,
        _record(
            "Pricebook2",
            PRICEBOOK_ID,
            opened,
            opened,
            {
                "Name": "Standard Price Book",
                "IsActive": True,
                "IsStandard": True,
                "Description": None,
            },
        ),
        created_at=opened,
        updated_at=opened,
    )
    for product in catalog.products:
        product_id = salesforce_id("Product2", product.index + 1)
        entry_id = salesforce_id("PricebookEntry", product.index + 1)
        created, updated = product.created_at, product.updated_at
        ctx.add(
            SYSTEM,
            "Product2",
            product_id,
            _record(
                "Product2",
                product_id,
                created,
                updated,
                {
                    "Name": product.name,
                    "ProductCode": product.sku,
                    "Family": product.category,
                    "IsActive": True,
                    "Description": None,
                    "QuantityUnitOfMeasure": "Each",
                },
            ),
            created_at=created,
            updated_at=updated,
        )
        ctx.add(
            SYSTEM,
            "PricebookEntry",
            entry_id,
            _record(
                "PricebookEntry",
                entry_id,
                created,
                updated,
                {
                    "Name": product.name,
                    "Pricebook2Id": PRICEBOOK_ID,
                    "Product2Id": product_id,
                    "ProductCode": product.sku,
                    "UnitPrice": float(money(catalog.channel_price(SYSTEM, product))),
                    "IsActive": True,
                    "UseStandardPrice": False,
                },
            ),
            created_at=created,
            updated_at=updated,
        )
    for n, name in enumerate(BUCKET_ACCOUNTS):
        account_id = salesforce_id("Account", n + 1)
        ctx.add(
            SYSTEM,
            "Account",
            account_id,
            _record(
                "Account",
                account_id,
                opened,
                opened,
                {
                    "Name": name,
                    "Type": "Customer",
                    "Industry": None,
                    "Phone": None,
                    "Website": None,
                    "BillingStreet": None,
                    "BillingCity": None,
                    "BillingPostalCode": None,
                    "BillingCountry": "France",
                    "OwnerId": OWNER_ID,
                },
            ),
            created_at=opened,
            updated_at=opened,
        )
        ctx.counters.next(SYSTEM, "Account")


def _company_account(ctx: WorldContext, company: Company, created: datetime) -> str:
    accounts: dict[str, str] = ctx.chunk_state.setdefault("salesforce_accounts", {})
    if company.domain not in accounts:
        account_id = _new_id(ctx, "Account")
        accounts[company.domain] = account_id
        ctx.add(
            SYSTEM,
            "Account",
            account_id,
            _record(
                "Account",
                account_id,
                created,
                created,
                {
                    "Name": company.name,
                    "Type": "Customer",
                    "Industry": "Retail",
                    "Phone": None,
                    "Website": f"https://www.{company.domain}",
                    "BillingStreet": None,
                    "BillingCity": None,
                    "BillingPostalCode": None,
                    "BillingCountry": "France",
                    "OwnerId": OWNER_ID,
                },
            ),
            created_at=created,
            updated_at=created,
        )
    return accounts[company.domain]


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's Contact, their service Cases and call Tasks."""
    copy = copy_for(person, SYSTEM, rng)
    created = ctx.joined(rng, person, days=90)
    if person.company:
        account_id = _company_account(ctx, person.company, created)
    else:
        account_id = salesforce_id("Account", 1 + person.index % len(BUCKET_ACCOUNTS))
    contact_id = _new_id(ctx, "Contact")
    updated = moment_between(rng, created, ctx.now)
    birth = copy.birth_date
    if "birth_date_conflict" in person.faults:
        birth = person.birth_date
    salutation = (
        {"F": "Mme", "M": "M."}[person.gender] if person.language == "fr" else {"F": "Ms.", "M": "Mr."}[person.gender]
    )
    compact = (copy.phone or "").replace(" ", "")
    mobile = copy.phone if compact.startswith(("+336", "+337", "+447", "06", "07")) else None
    ctx.add(
        SYSTEM,
        "Contact",
        contact_id,
        _record(
            "Contact",
            contact_id,
            created,
            updated,
            {
                "AccountId": account_id,
                "Salutation": salutation,
                "FirstName": copy.given_name,
                "LastName": copy.family_name,
                "Name": " ".join(p for p in (copy.given_name, copy.family_name) if p),
                "Email": copy.email,
                "Phone": None if mobile else copy.phone,
                "MobilePhone": mobile,
                "Birthdate": iso_date(birth),
                "HasOptedOutOfEmail": opted_out_in(person.consent, person.faults, SYSTEM),
                "MailingStreet": copy.street,
                "MailingCity": copy.city,
                "MailingPostalCode": copy.postcode,
                "MailingState": copy.region,
                "MailingCountry": copy.country,
                "LeadSource": rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Other", None)),
                "Title": rng.choice(("Responsable achats", "Gérant", "Assistante de direction"))
                if person.company
                else None,
                "Canalis_Customer_Id__c": None,
                "OwnerId": OWNER_ID,
            },
        ),
        created_at=created,
        updated_at=updated,
        person_id=person.person_id,
    )
    _cases(ctx, person, rng, contact_id, account_id, created, copy.email)
    _calls(ctx, person, rng, contact_id, account_id, created)


def _cases(
    ctx: WorldContext,
    person: Person,
    rng: random.Random,
    contact_id: str,
    account_id: str,
    created: datetime,
    email: str | None,
) -> None:
    forced = person.faults.get("open_complaint") == SYSTEM
    count = CASE_COUNTS.draw(rng) + (1 if forced else 0)
    may_stay_open = complaint_may_stay_open(person.consent, person.faults, SYSTEM)
    for n in range(count):
        kind = (
            "Complaint" if forced and n == count - 1 else rng.choice(("Complaint", "Question", "Question", "Problem"))
        )
        opened = moment_between(rng, created, ctx.now - timedelta(hours=3))
        closed_allowed = not (forced and n == count - 1)
        is_open = not closed_allowed or (rng.random() < 0.25 and (kind != "Complaint" or may_stay_open))
        if forced and n == count - 1:
            opened = moment_between(rng, ctx.now - timedelta(days=20), ctx.now - timedelta(hours=3))
        closed_at = None if is_open else moment_between(rng, opened, min(ctx.now, opened + timedelta(days=15)))
        updated = closed_at or moment_between(rng, opened, ctx.now)
        pool = COMPLAINT_SUBJECTS if kind == "Complaint" else QUESTION_SUBJECTS
        subject = rng.choice(pool[person.language])
        case_id = _new_id(ctx, "Case")
        ctx.add(
            SYSTEM,
            "Case",
            case_id,
            _record(
                "Case",
                case_id,
                opened,
                updated,
                {
                    "CaseNumber": f"{ctx.counters.last[(SYSTEM, 'Case')]:08d}",
                    "ContactId": contact_id,
                    "AccountId": account_id,
                    "Type": kind,
                    "Status": rng.choice(("New", "Working", "Escalated")) if is_open else "Closed",
                    "IsClosed": not is_open,
                    "ClosedDate": salesforce_datetime(closed_at) if closed_at else None,
                    "Origin": rng.choice(("Phone", "Email", "Web")),
                    "Priority": "High" if kind == "Complaint" and rng.random() < 0.5 else rng.choice(("Medium", "Low")),
                    "Subject": subject,
                    "Description": subject,
                    "SuppliedEmail": email if rng.random() < 0.3 else None,
                    "OwnerId": OWNER_ID,
                },
            ),
            created_at=opened,
            updated_at=updated,
            person_id=person.person_id,
        )
        if forced and n == count - 1:
            ctx.fault_details[(person.person_id, "complaint_targeted_by_promotion")]["case_id"] = case_id
        _follow_up_call(ctx, person, case_id, contact_id, opened, subject)


FOLLOW_UP_SHARE = 0.3
FOLLOW_UP_PREFIX = {"fr": "Relance client : ", "en": "Customer follow-up: "}


def _follow_up_call(
    ctx: WorldContext, person: Person, case_id: str, contact_id: str, opened: datetime, subject: str
) -> None:
    """Sometimes the customer phones a few days after opening a case, about the same thing (a repeat contact).

    Drawn from a generator of its own, so adding follow-ups leaves every other generated value unchanged.
    """
    rng = stable_rng(ctx.spec.seed, "salesforce-follow-up", case_id)
    if rng.random() >= FOLLOW_UP_SHARE:
        return
    at = opened + timedelta(hours=rng.randint(6, 24 * 6))
    if at >= ctx.now:
        return
    task_id = _new_id(ctx, "Task")
    call_subject = FOLLOW_UP_PREFIX.get(person.language, FOLLOW_UP_PREFIX["en"]) + subject
    ctx.add(
        SYSTEM,
        "Task",
        task_id,
        _record(
            "Task",
            task_id,
            at,
            at,
            {
                "WhoId": contact_id,
                "WhatId": case_id,
                "Subject": call_subject,
                "Type": "Call",
                "TaskSubtype": "Call",
                "CallType": "Inbound",
                "CallDurationInSeconds": rng.randint(60, 900),
                "Status": "Completed",
                "Priority": "Normal",
                "ActivityDate": at.date().isoformat(),
                "Description": None,
                "OwnerId": OWNER_ID,
            },
        ),
        created_at=at,
        updated_at=at,
        person_id=person.person_id,
    )


def _calls(
    ctx: WorldContext, person: Person, rng: random.Random, contact_id: str, account_id: str, created: datetime
) -> None:
    for _ in range(CALL_COUNTS.draw(rng)):
        at = moment_between(rng, created, ctx.now - timedelta(hours=1))
        subject = rng.choice(CALL_SUBJECTS)
        task_id = _new_id(ctx, "Task")
        ctx.add(
            SYSTEM,
            "Task",
            task_id,
            _record(
                "Task",
                task_id,
                at,
                at,
                {
                    "WhoId": contact_id,
                    "WhatId": account_id,
                    "Subject": subject,
                    "Type": "Call",
                    "TaskSubtype": "Call",
                    "CallType": "Outbound" if "sortant" in subject else "Inbound",
                    "CallDurationInSeconds": rng.randint(25, 1500),
                    "Status": "Completed",
                    "Priority": "Normal",
                    "ActivityDate": at.date().isoformat(),
                    "Description": None,
                    "OwnerId": OWNER_ID,
                },
            ),
            created_at=at,
            updated_at=at,
            person_id=person.person_id,
        )


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a Contact, as Salesforce holds them."""
    return {
        "given_name": payload.get("FirstName"),
        "family_name": payload.get("LastName"),
        "email": payload.get("Email"),
        "phone": payload.get("MobilePhone") or payload.get("Phone"),
        "birth_date": payload.get("Birthdate"),
        "street": payload.get("MailingStreet"),
        "postcode": payload.get("MailingPostalCode"),
        "city": payload.get("MailingCity"),
        "region": payload.get("MailingState"),
        "country": payload.get("MailingCountry"),
        "loyalty_id": None,
    }
