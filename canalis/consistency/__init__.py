"""Cross-channel inconsistencies: the rule catalogue, each rule family, and the lifecycle of what they find."""

from canalis.consistency.findings import Finding, Rule
from canalis.consistency.lifecycle import LifecycleReport, inconsistency_id, record_findings
from canalis.consistency.listing import list_inconsistencies, render_table
from canalis.consistency.rules import CATALOGUE, RULES, enabled_rules, run_rule, run_rules
from canalis.consistency.runner import ConsistencyReport, check_consistency, settings_for
from canalis.consistency.settings import ConsistencySettings, load_consistency_settings
from canalis.consistency.tables import CONSISTENCY_TABLES, inconsistencies

__all__ = [
    "CATALOGUE",
    "CONSISTENCY_TABLES",
    "RULES",
    "ConsistencyReport",
    "ConsistencySettings",
    "Finding",
    "LifecycleReport",
    "Rule",
    "check_consistency",
    "enabled_rules",
    "inconsistencies",
    "inconsistency_id",
    "list_inconsistencies",
    "load_consistency_settings",
    "record_findings",
    "render_table",
    "run_rule",
    "run_rules",
    "settings_for",
]
