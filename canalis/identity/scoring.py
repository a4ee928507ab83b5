"""Fellegi-Sunter scoring: u from random pairs, m seeded by deterministic links and refined by EM, name frequencies."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from canalis.identity.blocking import BLOCK_SIGNALS
from canalis.identity.compare import FIELD_NAMES, FIELDS, MAX_LEVELS, Comparison, compare
from canalis.identity.config import IdentityConfig

# Fields that pairs of each rule (blocking key or deterministic key) agree on by construction: EM on that
# rule's pairs leaves them out, so that their m-probabilities come only from rules that do not force them.
_SIGNAL_FIELDS: dict[str, str] = {
    "given": "given_name", "given_sound": "given_name", "given_initial": "given_name", "family": "family_name",
    "family_sound": "family_name", "dob": "birth_date", "postcode": "address", "city": "address",
    "street": "address", "street_number": "address", "street_sound": "address", "email_local": "email",
}  # fmt: skip
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    **{
        kind: tuple(dict.fromkeys(_SIGNAL_FIELDS[signal] for signal in signals))
        for kind, signals in BLOCK_SIGNALS.items()
    },
    "email": ("email",),
    "phone": ("phone",),
    "loyalty_id": ("loyalty_id",),
    "external_id": (),
}
_TF_FIELDS: dict[str, str] = {"given_name": "given", "family_name": "family"}
_SMOOTHING = 0.5
# Pseudo-observations of generic probabilities added to the data's own counts: negligible on real volumes,
# they keep the model sensible when a file holds only a handful of records.
_U_PRIOR_PAIRS = 2000.0
_M_PRIOR_PAIRS = 20.0
_MIN_PROBABILITY = 1e-6


@dataclass
class MatchModel:
    """Learned m- and u-probabilities per field and level, the prior match rate, and name frequencies."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    default_frequency: dict[str, float] = field(default_factory=dict)
    trained_on: dict[str, int] = field(default_factory=dict)
    region: str | None = None
    registers: tuple[str, ...] = ()

    def weights(self) -> np.ndarray:
        """log2(m/u) per field (rows) and level (columns); 0 for "missing" and unused levels."""
        table = np.zeros((len(FIELD_NAMES), MAX_LEVELS), dtype=np.float64)
        for i, name in enumerate(FIELD_NAMES):
            for level in range(1, len(FIELDS[name])):
                m = max(self.m[name][level], _MIN_PROBABILITY)
                u = max(self.u[name][level], _MIN_PROBABILITY)
                table[i, level] = math.log2(m / u)
        return table

    def prior_weight(self) -> float:
        """log2 of the prior odds that a candidate pair is a match."""
        p = min(max(self.prior, 1e-9), 1 - 1e-9)
        return math.log2(p / (1 - p))

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return {
            "m": self.m, "u": self.u, "prior": self.prior, "term_frequencies": self.term_frequencies,
            "default_frequency": self.default_frequency, "trained_on": self.trained_on, "region": self.region,
            "registers": list(self.registers),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> MatchModel:
        """The model saved by to_dict."""
        return cls(
            m={k: list(v) for k, v in data["m"].items()},
            u={k: list(v) for k, v in data["u"].items()},
            prior=float(data["prior"]),
            term_frequencies=data.get("term_frequencies", {}),
            default_frequency=data.get("default_frequency", {}),
            trained_on=data.get("trained_on", {}),
            region=data.get("region"),
            registers=tuple(data.get("registers", ())),
        )

    def describe(self) -> dict:
        """Readable weights per field and level, for logs and documentation."""
        table = self.weights()
        return {
            name: {level: round(float(table[i, j]), 2) for j, level in enumerate(FIELDS[name]) if j}
            for i, name in enumerate(FIELD_NAMES)
        }


def _level_frequencies(
    levels: np.ndarray,
    weights: np.ndarray | None = None,
    fields: list[int] | None = None,
    prior: dict[str, list[float]] | None = None,
    strength: float = 0.0,
) -> dict[str, list[float]]:
    """Share of each level among non-missing comparisons, per field (columns of `levels` are `fields`).

    With a `prior`, `strength` pseudo-observations distributed as the prior are added (small data stays sane).
    """
    fields = list(range(len(FIELD_NAMES))) if fields is None else fields
    out: dict[str, list[float]] = {}
    for k, i in enumerate(fields):
        name = FIELD_NAMES[i]
        count = len(FIELDS[name])
        column = levels[:, k]
        w = np.ones(len(column)) if weights is None else weights
        totals = np.bincount(column, weights=w, minlength=count)[:count].astype(np.float64)
        if prior is not None and strength > 0:
            totals[1:] += strength * np.asarray(prior[name][1:count], dtype=np.float64)
        present = totals[1:].sum()
        out[name] = [0.0] + [
            float((totals[j] + _SMOOTHING) / (present + _SMOOTHING * (count - 1))) for j in range(1, count)
        ]
    return out


def estimate_u(columns: dict[str, np.ndarray], n: int, config: IdentityConfig) -> dict[str, list[float]]:
    """u-probabilities: how often random (almost surely different) people agree at each level."""
    if n < 2:  # no pair of records to learn from: what is known of people in general
        return {name: list(values) for name, values in default_model().u.items()}
    rng = np.random.default_rng(config.random_seed)
    size = int(min(config.u_sample_pairs, max(n * (n - 1) // 2, 1), max(100 * n, 10_000)))
    a = rng.integers(0, n, size)
    b = rng.integers(0, n, size)
    keep = a != b
    comparison = compare(columns, a[keep], b[keep], config.workers)
    return _level_frequencies(comparison.levels, prior=default_model().u, strength=_U_PRIOR_PAIRS)


def _default_m() -> dict[str, list[float]]:
    return {name: list(values) for name, values in default_model().m.items()}


def _log_table(probs: dict[str, list[float]], fields: list[int]) -> np.ndarray:
    table = np.zeros((len(fields), MAX_LEVELS), dtype=np.float64)
    for k, i in enumerate(fields):
        name = FIELD_NAMES[i]
        for j in range(1, len(FIELDS[name])):
            table[k, j] = math.log(max(probs[name][j], _MIN_PROBABILITY))
    return table


def _pair_log(levels: np.ndarray, table: np.ndarray) -> np.ndarray:
    cols = np.arange(levels.shape[1])
    return table[cols[None, :], levels].sum(axis=1)


def em(
    levels: np.ndarray,
    fields: list[int],
    m: dict[str, list[float]],
    u: dict[str, list[float]],
    prior: float,
    iterations: int,
) -> tuple[dict[str, list[float]], float, float]:
    """Expectation-maximisation of m (for the given field columns) and the match share, u held fixed.

    Returns the m-probabilities, the share of matches among the pairs and the expected number of matches.
    """
    levels = levels[:, fields]
    log_u = _pair_log(levels, _log_table(u, fields))
    m = {name: list(values) for name, values in m.items()}
    posterior = np.full(len(levels), prior)
    for _ in range(iterations):
        log_m = _pair_log(levels, _log_table(m, fields))
        odds = np.clip(log_m - log_u + math.log(prior / (1 - prior)), -700, 700)
        posterior = 1.0 / (1.0 + np.exp(-odds))
        found = _level_frequencies(levels, posterior, fields, prior=_default_m(), strength=_M_PRIOR_PAIRS)
        change = max(abs(a - b) for name in found for a, b in zip(m[name], found[name], strict=True))
        m.update(found)
        prior = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        if change < 1e-5:
            break
    return m, prior, float(posterior.sum())


def estimate_prior(log2_factors: np.ndarray, total_pairs: float, iterations: int = 100) -> float:
    """Probability that two random records match: the fixed point of expected matches among candidates / all pairs.

    Pairs outside the candidates are taken as non-matches (blocking is meant to keep every likely match).
    """
    if total_pairs <= 0 or len(log2_factors) == 0:
        return 1e-6
    prior = min(0.5, max(len(log2_factors) * 0.1 / total_pairs, 1e-12))
    for _ in range(iterations):
        odds = np.clip(log2_factors + math.log2(prior / (1 - prior)), -60, 60)
        expected = float((1.0 / (1.0 + np.exp2(-odds))).sum())
        new = min(max(expected / total_pairs, 1e-12), 0.5)
        if abs(new - prior) <= 1e-9 * max(prior, 1e-12):
            prior = new
            break
        prior = new
    return prior


def term_frequencies(columns: dict[str, np.ndarray]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Share of records holding each given and family name, and the share assumed for names never seen."""
    tables: dict[str, dict[str, float]] = {}
    defaults: dict[str, float] = {}
    for name, column in _TF_FIELDS.items():
        values = [v for v in columns[column] if v]
        total = max(len(values), 1)
        tables[name] = {value: count / total for value, count in Counter(values).items() if count > 1}
        defaults[name] = 1.0 / total
    return tables, defaults


def train(
    columns: dict[str, np.ndarray],
    n: int,
    rules: dict[str, tuple[np.ndarray, np.ndarray]],
    config: IdentityConfig,
) -> MatchModel:
    """Learn a model from the records themselves.

    u comes from random pairs. m comes from EM run separately on the pairs of each blocking or deterministic
    rule, leaving out the fields that rule forces to agree, and is averaged over rules weighted by their
    expected matches. The prior is set later by `estimate_prior` on all candidate pairs.
    """
    u = estimate_u(columns, n, config)
    sums: dict[str, np.ndarray] = {}
    weights: dict[str, float] = {}
    used: dict[str, int] = {}
    for rule, (a, b) in sorted(rules.items()):
        if len(a) < 50:
            continue
        fields = [i for i, name in enumerate(FIELD_NAMES) if name not in RULE_FIELDS.get(rule, ())]
        levels = compare(columns, a, b, config.workers).levels
        m, _, expected = em(levels, fields, _default_m(), u, 0.5, config.em_iterations)
        used[rule] = len(a)
        for i in fields:
            name = FIELD_NAMES[i]
            present = float((levels[:, i] > 0).mean())
            weight = expected * present
            if weight <= 0:
                continue
            sums[name] = sums.get(name, np.zeros(len(FIELDS[name]))) + weight * np.asarray(m[name])
            weights[name] = weights.get(name, 0.0) + weight
    m = _default_m()
    for name, total in sums.items():  # fields no rule could estimate keep the generic m
        if weights[name] > 0:
            m[name] = (total / weights[name]).tolist()
    tables, defaults = term_frequencies(columns) if config.term_frequency_names else ({}, {})
    return MatchModel(
        m=m, u=u, prior=1e-6, term_frequencies=tables, default_frequency=defaults,
        trained_on={"records": n, **{f"pairs_{rule}": count for rule, count in used.items()}},
    )  # fmt: skip


def _row_frequencies(columns: dict[str, np.ndarray], model: MatchModel) -> dict[str, np.ndarray]:
    """Per row: how common its given and family names are (cached in `columns` for this model)."""
    cached = columns.get("_frequencies")
    if cached is not None and cached[0] is model:
        return cached[1]
    tables = model.term_frequencies
    given, family = tables.get("given_name", {}), tables.get("family_name", {})
    either_default = max(model.default_frequency.values(), default=_MIN_PROBABILITY)
    out: dict[str, np.ndarray] = {}
    for name, column in _TF_FIELDS.items():
        table = tables.get(name, {})
        default = model.default_frequency.get(name, _MIN_PROBABILITY)
        values = columns[column]
        hashes = columns.get(f"h_{column}")
        if hashes is None:
            hashes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        distinct, first = np.unique(hashes, return_index=True)
        where = np.searchsorted(distinct, hashes)
        names = values[first]
        out[name] = np.array([table.get(v, default) for v in names], dtype=np.float64)[where]
        out[f"{name}_either"] = np.array(
            [max(given.get(v, either_default), family.get(v, either_default)) for v in names], dtype=np.float64
        )[where]
    columns["_frequencies"] = (model, out)  # type: ignore[assignment]
    return out


def match_weights(
    comparison: Comparison, columns: dict[str, np.ndarray], a: np.ndarray, model: MatchModel
) -> np.ndarray:
    """Per pair and field, log2(m/u) (exact name agreement weighed by the name's frequency)."""
    table = model.weights()
    cols = np.arange(len(FIELD_NAMES))
    weights = table[cols[None, :], comparison.levels] if len(a) else np.zeros((0, len(FIELD_NAMES)))
    if not model.term_frequencies or not len(a):
        return weights
    swapped = comparison.swapped
    frequencies = _row_frequencies(columns, model)
    for name in _TF_FIELDS:
        i = FIELD_NAMES.index(name)
        exact = np.flatnonzero(comparison.levels[:, i] == 1)
        if not len(exact):
            continue
        # When one record has the names swapped, which side's value is the real given name is unknown:
        # the frequency of the value as either kind of name is used, the same whichever record comes first.
        rows = a[exact]
        freq = np.where(swapped[exact], frequencies[f"{name}_either"][rows], frequencies[name][rows])
        m_exact = max(model.m[name][1], _MIN_PROBABILITY)
        weights[exact, i] = np.log2(m_exact / np.maximum(freq, _MIN_PROBABILITY))
    return weights


@dataclass(slots=True)
class Scores:
    """Per pair: the weight of each field, the total match weight and the posterior probability."""

    field_weights: np.ndarray
    total: np.ndarray
    probability: np.ndarray


def score(comparison: Comparison, columns: dict[str, np.ndarray], a: np.ndarray, model: MatchModel) -> Scores:
    """Score compared pairs: field weights, total match weight (with the prior) and posterior probability."""
    weights = match_weights(comparison, columns, a, model)
    total = weights.sum(axis=1) + model.prior_weight()
    probability = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
    return Scores(field_weights=weights, total=total, probability=probability)


def default_model() -> MatchModel:
    """Generic weights for when no data was seen yet (explaining two records on their own)."""
    return MatchModel(
        m={
            "given_name": [0.0, 0.85, 0.06, 0.05, 0.02, 0.02],
            "family_name": [0.0, 0.88, 0.05, 0.03, 0.02, 0.02],
            "birth_date": [0.0, 0.93, 0.04, 0.02, 0.01],
            "email": [0.0, 0.65, 0.05, 0.05, 0.25],
            "phone": [0.0, 0.8, 0.2],
            "address": [0.0, 0.6, 0.15, 0.1, 0.05, 0.1],
            "loyalty_id": [0.0, 0.95, 0.05],
        },
        u={
            "given_name": [0.0, 0.01, 0.01, 0.03, 0.15, 0.8],
            "family_name": [0.0, 0.002, 0.003, 0.01, 0.1, 0.885],
            "birth_date": [0.0, 0.00005, 0.0005, 0.002, 0.99745],
            "email": [0.0, 0.000001, 0.00001, 0.00001, 0.999979],
            "phone": [0.0, 0.000001, 0.999999],
            "address": [0.0, 0.00001, 0.00005, 0.005, 0.05, 0.94494],
            "loyalty_id": [0.0, 0.000001, 0.999999],
        },
        prior=0.01,
        trained_on={"records": 0},
    )
