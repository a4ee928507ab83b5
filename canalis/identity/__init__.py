"""Identity resolution: deterministic and probabilistic linking of customer records into stable customers."""

from canalis.identity.config import IdentityConfig
from canalis.identity.engine import IdentityEngine, LinkRecord, Resolution
from canalis.identity.explain import explain
from canalis.identity.outcome import Assignment
from canalis.identity.overrides import FORCE_MERGE, NEVER_MERGE, Override, Overrides
from canalis.identity.records import IdentityRecord, record_key
from canalis.identity.report import ResolutionReport
from canalis.identity.scoring import MatchModel, default_model
from canalis.identity.survivorship import GoldenRecord

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
