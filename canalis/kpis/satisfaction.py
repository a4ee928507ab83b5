"""Satisfaction: CSAT on 1-5 scores and NPS on 0-10 scores, split single- vs multi-channel customers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, case, func, literal, or_, select

from canalis.kpis.settings import KpiSettings
from canalis.kpis.sql import channel_counts, share
from canalis.store import tables

CSAT, NPS = "csat_5", "nps_10"
SEGMENTS = ("single_channel", "multichannel", "unidentified")
SCALE_RANGE = {CSAT: (1.0, 5.0), NPS: (0.0, 10.0)}
PROMOTER_MIN, DETRACTOR_MAX = 9.0, 6.0


@dataclass
class ScoreTally:
    """Responses of one segment on one scale."""

    responses: int = 0
    score_sum: float = 0.0
    satisfied: int = 0
    promoters: int = 0
    detractors: int = 0

    def add(self, other: ScoreTally) -> None:
        self.responses += other.responses
        self.score_sum += other.score_sum
        self.satisfied += other.satisfied
        self.promoters += other.promoters
        self.detractors += other.detractors

    @property
    def average(self) -> float | None:
        return round(self.score_sum / self.responses, 3) if self.responses else None

    @property
    def csat(self) -> float | None:
        """Share of satisfied responses (1-5 scale)."""
        return share(self.satisfied, self.responses)

    @property
    def nps(self) -> float | None:
        """Promoters minus detractors, in points from -100 to 100 (0-10 scale)."""
        if not self.responses:
            return None
        return round(100 * (self.promoters - self.detractors) / self.responses, 1)


@dataclass
class SatisfactionReport:
    """CSAT and NPS, overall and per customer segment; scales chosen per source."""

    scales: dict[str, str] = field(default_factory=dict)
    csat: dict[str, ScoreTally] = field(default_factory=lambda: {segment: ScoreTally() for segment in SEGMENTS})
    nps: dict[str, ScoreTally] = field(default_factory=lambda: {segment: ScoreTally() for segment in SEGMENTS})
    out_of_range: int = 0

    def total(self, scale: str) -> ScoreTally:
        overall = ScoreTally()
        for tally in (self.csat if scale == CSAT else self.nps).values():
            overall.add(tally)
        return overall

    def rows(self) -> list[dict]:
        """Per segment: CSAT responses, CSAT, average; NPS responses, NPS."""
        rows = []
        for segment in (*SEGMENTS, "all"):
            csat = self.total(CSAT) if segment == "all" else self.csat[segment]
            nps = self.total(NPS) if segment == "all" else self.nps[segment]
            rows.append(
                {
                    "segment": segment,
                    "csat_responses": csat.responses,
                    "csat": csat.csat,
                    "average_1_5": csat.average,
                    "nps_responses": nps.responses,
                    "nps": nps.nps,
                }
            )
        return rows


def score_scales(conn: Connection, settings: KpiSettings) -> dict[str, str]:
    """The scale of each source with scores: from the settings, else 0-10 when some score is above 5."""
    i = tables.interactions
    scales = {}
    for source, highest in conn.execute(
        select(i.c.source, func.max(i.c.satisfaction_score))
        .where(i.c.satisfaction_score.is_not(None))
        .group_by(i.c.source)
    ):
        scales[source] = settings.score_scales.get(source) or (NPS if highest > 5 else CSAT)
    return scales


def satisfaction(conn: Connection, settings: KpiSettings) -> SatisfactionReport:
    """CSAT and NPS from `interactions.satisfaction_score`, aggregated in SQL by source and segment."""
    i = tables.interactions
    report = SatisfactionReport(scales=score_scales(conn, settings))
    if not report.scales:
        return report
    counts = channel_counts(settings)
    score = i.c.satisfaction_score
    segment = case(
        (i.c.customer_id.is_(None), literal("unidentified")),
        (func.coalesce(counts.c.channels, 0) >= 2, literal("multichannel")),
        else_=literal("single_channel"),
    ).label("segment")
    in_range = or_(
        *(
            and_(i.c.source == source, score.between(*SCALE_RANGE[scale]))
            for source, scale in sorted(report.scales.items())
        )
    )
    rows = conn.execute(
        select(
            i.c.source,
            segment,
            func.count().label("responses"),
            func.sum(score).label("score_sum"),
            func.sum(case((score >= settings.csat_satisfied_min, 1), else_=0)).label("satisfied"),
            func.sum(case((score >= PROMOTER_MIN, 1), else_=0)).label("promoters"),
            func.sum(case((score <= DETRACTOR_MAX, 1), else_=0)).label("detractors"),
        )
        .select_from(i.outerjoin(counts, counts.c.customer_id == i.c.customer_id))
        .where(score.is_not(None), in_range)
        .group_by(i.c.source, segment)
    )
    counted = 0
    for row in rows:
        tally = ScoreTally(
            responses=int(row.responses),
            score_sum=float(row.score_sum or 0),
            satisfied=int(row.satisfied or 0),
            promoters=int(row.promoters or 0),
            detractors=int(row.detractors or 0),
        )
        counted += tally.responses
        (report.csat if report.scales[row.source] == CSAT else report.nps)[row.segment].add(tally)
    scored = conn.execute(select(func.count()).where(score.is_not(None))).scalar_one()
    report.out_of_range = scored - counted
    return report
