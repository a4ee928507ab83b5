"""Review of proposed merges: list them, accept or reject them (with who and why), or let the policy decide.

A proposed merge is a link identity resolution did not apply on its own: a score in the review band
(`review_probability` to `match_probability`), a scored link that would join two large profiles
(`large_profile_records`), or a weak link that alone held a cluster together (`split_weak_bridges`).
Accepting records a force_merge override and rejecting a never_merge override: steward decisions, applied on
every run, so an accepted or rejected merge survives a full rebuild. The proposal row keeps the audit: who
decided, when and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, func, select

from canalis.identity.config import IdentityConfig
from canalis.identity.overrides import FORCE_MERGE, NEVER_MERGE, Override
from canalis.identity.persistence import ACCEPTED_PROPOSAL, PENDING, REJECTED_PROPOSAL, _apply_decisions
from canalis.identity.report import ResolutionReport
from canalis.identity.tables import identity_proposed_merges as proposals

POLICY = "policy"
_LISTED = ("proposal_id", "record_a", "record_b", "reason", "probability", "customer_a", "customer_b", "status",
           "proposed_at", "decided_at", "decided_by", "note")  # fmt: skip


def list_proposals(engine: Engine, status: str | None = PENDING, limit: int = 100) -> list[dict[str, Any]]:
    """Proposed merges (pending by default; None for all), most probable first."""
    query = select(*(proposals.c[name] for name in _LISTED)).order_by(
        proposals.c.probability.desc(), proposals.c.proposal_id
    )
    if status is not None:
        query = query.where(proposals.c.status == status)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query.limit(limit))]


def proposal_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Number of proposed merges by status and reason."""
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as connection:
        query = select(proposals.c.status, proposals.c.reason, func.count()).group_by(
            proposals.c.status, proposals.c.reason
        )
        for status, reason, count in connection.execute(query):
            out.setdefault(status, {})[reason] = int(count)
    return out


def decide(
    engine: Engine,
    proposal_ids: Sequence[int],
    accept: bool,
    who: str,
    why: str,
    *,
    config: IdentityConfig | None = None,
    now: datetime | None = None,
) -> ResolutionReport:
    """Accept (force_merge) or reject (never_merge) pending proposals, and resolve the records they concern.

    Raises KeyError for an unknown proposal and ValueError for one already decided.
    """
    if not who.strip() or not why.strip():
        raise ValueError("a decision needs who and why")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    kind = FORCE_MERGE if accept else NEVER_MERGE
    status = ACCEPTED_PROPOSAL if accept else REJECTED_PROPOSAL
    decisions: list[Override] = []
    with engine.begin() as connection:
        for proposal_id in proposal_ids:
            row = connection.execute(select(proposals).where(proposals.c.proposal_id == proposal_id)).first()
            if row is None:
                raise KeyError(f"unknown proposed merge {proposal_id}")
            if row.status != PENDING:
                raise ValueError(f"proposed merge {proposal_id} is already {row.status}")
            connection.execute(
                sa.update(proposals)
                .where(proposals.c.proposal_id == proposal_id)
                .values(status=status, decided_at=moment, decided_by=who, note=why)
            )
            reason = f"proposed merge {proposal_id} ({row.reason}) {status}: {why}"
            decisions.append(Override(kind, row.record_a, row.record_b, who, reason, moment))
    return _apply_decisions(engine, decisions, config or IdentityConfig(), moment)


def apply_policy(engine: Engine, config: IdentityConfig, *, now: datetime | None = None) -> dict[str, int]:
    """Decide pending proposals by the configured thresholds (auto_accept_probability, auto_reject_below)."""
    decided = {"accepted": 0, "rejected": 0}
    with engine.connect() as connection:
        pending = connection.execute(
            select(proposals.c.proposal_id, proposals.c.probability).where(proposals.c.status == PENDING)
        ).all()
    accept = [pid for pid, p in pending if config.auto_accept_probability is not None
              and p >= config.auto_accept_probability]  # fmt: skip
    reject = [pid for pid, p in pending if config.auto_reject_below is not None and p < config.auto_reject_below
              and pid not in set(accept)]  # fmt: skip
    why = "review policy of the identity settings"
    if accept:
        decide(engine, accept, True, POLICY, why, config=config, now=now)
        decided["accepted"] = len(accept)
    if reject:
        decide(engine, reject, False, POLICY, why, config=config, now=now)
        decided["rejected"] = len(reject)
    return decided
