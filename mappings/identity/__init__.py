"""Identity resolution: deterministic and probabilistic linking of customer records into stable customers."""

from mappings.identity.config import IdentityConfig
from mappings.identity.engine import IdentityEngine, LinkRecord, Resolution
from mappings.identity.explain import explain
from mappings.identity.outcome import Assignment
from mappings.identity.overrides import FORCE_MERGE, NEVER_MERGE, Override, Overrides
from mappings.identity.records import IdentityRecord, record_key
from mappings.identity.report import ResolutionReport
from mappings.identity.scoring import MatchModel, default_model
from mappings.identity.survivorship import GoldenRecord

__all__ = [
    "FORCE_MERGE",
    "NEVER_MERGE",
    "Assignment",
    "GoldenRecord",
    "IdentityConfig",
    "IdentityEngine",
    "IdentityRecord",
    "LinkRecord",
    "MatchModel",
    "Override",
    "Overrides",
    "Resolution",
    "ResolutionReport",
    "default_model",
    "explain",
    "record_key",
]
