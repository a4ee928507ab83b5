"""What a resolution run did, as counts for Dagster metadata and data-quality checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ResolutionReport:
    """Counts of one resolution run."""

    mode: str = "full"
    records_read: int = 0
    records_resolved: int = 0
    records_removed: int = 0
    customers_total: int = 0
    customers_new: int = 0
    customers_merged: int = 0
    customers_split: int = 0
    customers_retired: int = 0
    links_by_rule: dict[str, int] = field(default_factory=dict)
    refused_links: dict[str, int] = field(default_factory=dict)
    review_pairs: int = 0
    register_sources: list[str] = field(default_factory=list)
    one_to_one_links: int = 0
    proposed_merges: dict[str, int] = field(default_factory=dict)
    policy_decisions: dict[str, int] = field(default_factory=dict)
    demoted_keys: dict[str, int] = field(default_factory=dict)
    flagged_clusters: list[dict] = field(default_factory=list)
    largest_cluster: int = 0
    singleton_share: float = 0.0
    candidate_pairs: int = 0
    skipped_blocks: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)

    def to_metadata(self) -> dict[str, object]:
        """Flat values for Dagster asset metadata."""
        out: dict[str, object] = {k: v for k, v in self.to_dict().items() if not isinstance(v, (dict, list))}
        out["flagged_clusters"] = len(self.flagged_clusters)
        for rule, count in self.links_by_rule.items():
            out[f"links_{rule}"] = count
        return out
