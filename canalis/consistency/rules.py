"""The catalogue of consistency rules: stable code, severity, entity type, description and check of each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from canalis.consistency import catalog_rules, customer_rules
from canalis.consistency.findings import Finding, Rule
from canalis.consistency.settings import ConsistencySettings

if TYPE_CHECKING:
    from canalis.consistency.scope import CustomerScope

CATALOGUE: tuple[Rule, ...] = (
    Rule(
        "price_mismatch",
        "error",
        catalog_rules.PRODUCT,
        "A channel's price differs from its system-of-record price list beyond the tolerance.",
        catalog_rules.price_mismatches,
        ("prices",),
    ),
    Rule(
        "promo_missing",
        "warn",
        catalog_rules.PROMOTION,
        "A promotion active in the system of record is absent from a channel it is meant for.",
        catalog_rules.promotions_missing,
        ("promotions",),
    ),
    Rule(
        "promo_expired_but_active",
        "error",
        catalog_rules.PROMOTION,
        "A channel still runs a promotion after its end date, or after the system of record disabled it.",
        catalog_rules.promotions_expired_but_active,
        ("promotions",),
    ),
    Rule(
        "promo_value_mismatch",
        "error",
        catalog_rules.PROMOTION,
        "A channel gives a different discount type or value than the system of record.",
        catalog_rules.promotion_value_mismatches,
        ("promotions",),
    ),
    Rule(
        "stock_oversell_risk",
        "error",
        catalog_rules.PRODUCT,
        "A channel shows more available than the system of record's on hand minus reserved minus buffer.",
        catalog_rules.stock_oversell_risks,
        ("stock_levels",),
    ),
    Rule(
        "customer_attribute_conflict",
        "warn",
        customer_rules.CUSTOMER,
        "One person, values that really disagree across systems (birth date, email, phone, name, current address).",
        customer_rules.customer_attribute_conflicts,
        ("customer_records",),
    ),
    Rule(
        "duplicate_in_channel",
        "warn",
        customer_rules.CUSTOMER,
        "One channel holds several records of the same unified customer.",
        customer_rules.duplicates_in_channel,
        ("customer_records",),
    ),
    Rule(
        "consent_conflict",
        "error",
        customer_rules.CUSTOMER,
        "Opted out in one system, subscribed in another, for the same purpose.",
        customer_rules.consent_conflicts,
        ("consents",),
    ),
    Rule(
        "complaint_targeted_by_promotion",
        "warn",
        customer_rules.CUSTOMER,
        "An open complaint in some system while the customer is still subscribed to promotional email.",
        customer_rules.complaints_targeted,
        ("interactions", "consents"),
    ),
)
RULES: dict[str, Rule] = {rule.code: rule for rule in CATALOGUE}


def enabled_rules(settings: ConsistencySettings) -> list[Rule]:
    """The rules that run under these settings, in catalogue order."""
    return [rule for rule in CATALOGUE if rule.code not in settings.disabled_rules]


def run_rule(
    conn: Connection, rule: Rule, settings: ConsistencySettings, now: datetime, scope: CustomerScope | None = None
) -> list[Finding]:
    """One rule's findings, with the severity in force and duplicates (same identity) dropped.

    With a scope, a customer rule looks only at the scope's customers and reports findings of its core ones.
    """
    severity = settings.severity_of(rule.code, rule.severity)
    unique: dict[tuple, Finding] = {}
    scoped = scope is not None and rule.entity_type == customer_rules.CUSTOMER
    found = rule.check(conn, settings, now, scope=scope) if scoped else rule.check(conn, settings, now)
    for finding in found:
        if scoped and finding.entity_key not in scope.core:
            continue
        if finding.severity != severity:
            finding = Finding(
                finding.code, finding.entity_type, finding.entity_key, finding.channels, finding.details, severity
            )
        unique.setdefault(finding.identity, finding)
    return list(unique.values())


def run_rules(
    conn: Connection, settings: ConsistencySettings, now: datetime, rules: Iterable[Rule] | None = None
) -> list[Finding]:
    """Every enabled rule's findings, rule by rule in catalogue order."""
    findings: list[Finding] = []
    for rule in rules if rules is not None else enabled_rules(settings):
        findings.extend(run_rule(conn, rule, settings, now))
    return findings
