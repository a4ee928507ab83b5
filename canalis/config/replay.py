"""A connection's `replay` section: how much of its quarantine each run retries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReplaySettings(BaseModel):
    """How many quarantined records of each stream a run retries, and how far it re-reads to find them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records_per_run: int = Field(
        default=100, ge=0, description="quarantined records of a stream retried per run (0: only by hand)"
    )
    window_pages: int = Field(
        default=20, ge=1, description="most pages a run re-reads to find a stream's quarantined records again"
    )
