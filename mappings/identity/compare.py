"""Field comparisons: pairwise compatibility rules and vectorised comparison levels for scoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

# Comparison fields and the names of their levels; level 0 of every field means "missing on one side".
FIELDS: dict[str, tuple[str, ...]] = {
    "given_name": ("missing", "exact", "close", "compatible", "different"),
    "family_name": ("missing", "exact", "close", "compatible", "different"),
    "birth_date": ("missing", "exact", "typo", "different"),
    "email": ("missing", "exact", "domain_typo", "local_typo", "different"),
    "phone": ("missing", "exact", "different"),
    "address": ("missing", "same_street", "close_street", "same_postcode", "same_city", "different"),
    "loyalty_id": ("missing", "exact", "different"),
}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS)
MAX_LEVELS = max(len(levels) for levels in FIELDS.values())


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity of two strings, 0..1."""
    return JaroWinkler.normalized_similarity(a, b)


def dob_compatible(a: int, b: int) -> bool:
    """Birth dates (yyyymmdd, 0 = missing) that may be the same: equal, one digit apart, or day and month swapped."""
    if not a or not b or a == b:
        return True
    return dob_typo(a, b)


def dob_typo(a: int, b: int) -> bool:
    """Two different birth dates that look like one typed wrongly (one digit, swapped day/month or digits)."""
    sa, sb = f"{a:08d}", f"{b:08d}"
    diffs = [i for i in range(8) if sa[i] != sb[i]]
    if len(diffs) == 1:
        return True
    if len(diffs) == 2 and diffs[1] == diffs[0] + 1 and sa[diffs[0]] == sb[diffs[1]] and sa[diffs[1]] == sb[diffs[0]]:
        return True
    return sa[:4] == sb[:4] and sa[4:6] == sb[6:8] and sa[6:8] == sb[4:6]


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


def initials(folded: str) -> str:
    """First letters of the tokens of a folded name ("jean baptiste" -> "jb")."""
    return "".join(token[0] for token in folded.split())


def given_related(a: str, b: str) -> bool:
    """Given names where one is an initial, prefix, first token or the initials of the other (J, Alex, Jean, JB)."""
    if not a or not b:
        return True
    if a == b or a.startswith(b) or b.startswith(a):
        return True
    if a.split()[0] == b.split()[0]:
        return True
    if a.replace(" ", "") == initials(b) or b.replace(" ", "") == initials(a):
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) <= 5 and short[:3] == long[:3] and len(short) >= 3


def given_compatible(a: str, b: str, threshold: float) -> bool:
    """Given names that may belong to one person."""
    return given_related(a, b) or jaro_winkler(a, b) >= threshold


def family_compatible(a: str, b: str) -> bool:
    """Family names that may belong to one person (equal, close, or sharing a token)."""
    if not a or not b or a == b:
        return True
    if set(a.split()) & set(b.split()):
        return True
    return jaro_winkler(a, b) >= 0.8


def names_compatible(ga: str, fa: str, gb: str, fb: str, threshold: float) -> bool:
    """Names that may belong to one person, also when given and family names were swapped in one system."""
    if ga == gb and fa == fb:
        return True
    if given_compatible(ga, gb, threshold) and family_compatible(fa, fb):
        return True
    return bool(ga and fb and gb and fa) and given_compatible(ga, fb, threshold) and family_compatible(fa, gb)


SCORE_COLUMNS: tuple[str, ...] = (
    "given", "family", "dob", "email", "email_local", "phone", "street", "postcode", "city", "loyalty",
)  # fmt: skip


def score_columns(frame) -> dict[str, np.ndarray]:
    """The frame columns comparisons read, plus derived per-record helpers computed once."""
    columns = {name: frame.array(name) for name in SCORE_COLUMNS}
    columns["given_first"] = np.array([g[:1] for g in frame.given], dtype=object)
    columns["family_first"] = np.array([f[:1] for f in frame.family], dtype=object)
    columns["given_multi"] = np.array([" " in g for g in frame.given], dtype=bool)
    columns["family_multi"] = np.array([" " in f for f in frame.family], dtype=bool)
    columns["email_domain"] = np.array([e.rsplit("@", 1)[1] if e else "" for e in frame.email], dtype=object)
    return columns


@dataclass(slots=True)
class Comparison:
    """Comparison levels (pairs x fields, int8) and the similarities behind them, for a batch of pairs."""

    levels: np.ndarray
    similarity: dict[str, np.ndarray]
    swapped: np.ndarray


def _cpdist(a: np.ndarray, b: np.ndarray, scorer, workers: int) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(process.cpdist(a, b, scorer=scorer, workers=workers), dtype=np.float64)


def _name_levels(
    a: np.ndarray, b: np.ndarray, sim: np.ndarray, present: np.ndarray, related: np.ndarray
) -> np.ndarray:
    level = np.full(len(a), 4, dtype=np.int8)
    level[related | (sim >= 0.8)] = 3
    level[sim >= 0.92] = 2
    level[a == b] = 1
    level[~present] = 0
    return level


def _related(
    x: np.ndarray, y: np.ndarray, sim: np.ndarray, todo: np.ndarray, family: bool
) -> np.ndarray:
    """Name pairs related beyond similarity: shared token (family) or initial/prefix/first token (given).

    `todo` marks the pairs worth checking (both present, low similarity, and a cheap precondition).
    """
    out = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(todo & (sim < 0.8))
    if family:
        out[idx] = [bool(set(x[i].split()) & set(y[i].split())) for i in idx]
    else:
        out[idx] = [given_related(x[i], y[i]) for i in idx]
    return out


def compare(columns: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, workers: int = 1) -> Comparison:
    """Compare rows a[i] and b[i] of the frame columns on every field."""
    n = len(a)
    levels = np.zeros((n, len(FIELD_NAMES)), dtype=np.int8)
    sims: dict[str, np.ndarray] = {}
    ga, gb = columns["given"][a], columns["given"][b]
    fa, fb = columns["family"][a], columns["family"][b]
    g_present = (ga != "") & (gb != "")
    f_present = (fa != "") & (fb != "")
    sim_g = _cpdist(ga, gb, JaroWinkler.normalized_similarity, workers)
    sim_f = _cpdist(fa, fb, JaroWinkler.normalized_similarity, workers)
    swapped = np.zeros(n, dtype=bool)
    cross = np.flatnonzero(g_present & f_present & ((ga != gb) | (fa != fb)))
    if len(cross):
        cross_g = _cpdist(ga[cross], fb[cross], JaroWinkler.normalized_similarity, workers)
        cross_f = _cpdist(fa[cross], gb[cross], JaroWinkler.normalized_similarity, workers)
        related = np.zeros(len(cross), dtype=bool)
        maybe = np.flatnonzero(columns["given_first"][a[cross]] == columns["family_first"][b[cross]])
        related[maybe] = [given_related(ga[cross[i]], fb[cross[i]]) for i in maybe]
        cross_g = np.where(related, np.maximum(cross_g, 0.92), cross_g)
        better = (cross_g >= 0.92) & (cross_f >= 0.92) & (cross_g + cross_f > sim_g[cross] + sim_f[cross] + 0.2)
        chosen = cross[better]
        swapped[chosen] = True
        sim_g[chosen], sim_f[chosen] = cross_g[better], cross_f[better]
        gb = gb.copy()
        fb = fb.copy()
        gb[chosen], fb[chosen] = fb[chosen].copy(), columns["given"][b[chosen]]
    first_b = np.where(swapped, columns["family_first"][b], columns["given_first"][b])
    given_todo = g_present & (columns["given_first"][a] == first_b)
    multi_b = np.where(swapped, columns["given_multi"][b], columns["family_multi"][b])
    family_todo = f_present & (columns["family_multi"][a] | multi_b)
    levels[:, 0] = _name_levels(ga, gb, sim_g, g_present, _related(ga, gb, sim_g, given_todo, False))
    levels[:, 1] = _name_levels(fa, fb, sim_f, f_present, _related(fa, fb, sim_f, family_todo, True))
    sims["given_name"], sims["family_name"] = sim_g, sim_f

    da, db = columns["dob"][a], columns["dob"][b]
    dob = np.full(n, 3, dtype=np.int8)
    differ = np.flatnonzero((da != db) & (da > 0) & (db > 0))
    typo = np.fromiter((dob_typo(int(da[i]), int(db[i])) for i in differ), dtype=bool, count=len(differ))
    dob[differ[typo]] = 2
    dob[da == db] = 1
    dob[(da == 0) | (db == 0)] = 0
    levels[:, 2] = dob

    ea, eb = columns["email"][a], columns["email"][b]
    la, lb = columns["email_local"][a], columns["email_local"][b]
    email = np.full(n, 4, dtype=np.int8)
    differ = np.flatnonzero((ea != "") & (eb != "") & (ea != eb))
    if len(differ):
        da, dbs = columns["email_domain"][a[differ]], columns["email_domain"][b[differ]]
        lx, ly = la[differ], lb[differ]
        same_local = lx == ly
        same_domain = da == dbs
        level = np.full(len(differ), 4, dtype=np.int8)
        level[same_local & same_domain] = 1
        typo_domain = np.flatnonzero(same_local & ~same_domain)
        if len(typo_domain):
            near = _cpdist(da[typo_domain], dbs[typo_domain], OSA.distance, workers) <= 2
            level[typo_domain[near]] = 2
        typo_local = np.flatnonzero(same_domain & ~same_local)
        if len(typo_local):
            near = typo_local[_cpdist(lx[typo_local], ly[typo_local], OSA.distance, workers) <= 2]
            # A typo changes letters or swaps characters; adding or dropping a separator is another address.
            real = np.fromiter(
                (_letters(lx[i]) != _letters(ly[i]) or len(lx[i]) == len(ly[i]) for i in near),
                dtype=bool, count=len(near),
            )  # fmt: skip
            level[near[real]] = 3
        email[differ] = level
    email[ea == eb] = 1
    email[(ea == "") | (eb == "")] = 0
    levels[:, 3] = email

    pa, pb = columns["phone"][a], columns["phone"][b]
    phone = np.where(pa == pb, 1, 2).astype(np.int8)
    phone[(pa == "") | (pb == "")] = 0
    levels[:, 4] = phone

    sa, sb = columns["street"][a], columns["street"][b]
    pca, pcb = columns["postcode"][a], columns["postcode"][b]
    ca, cb = columns["city"][a], columns["city"][b]
    s_present = (sa != "") & (sb != "")
    sim_s = np.zeros(n, dtype=np.float64)
    idx = np.flatnonzero(s_present)
    if len(idx):
        sim_s[idx] = _cpdist(sa[idx], sb[idx], fuzz.token_sort_ratio, workers) / 100.0
    same_pc = (pca == pcb) & (pca != "")
    address = np.full(n, 5, dtype=np.int8)
    address[(ca == cb) & (ca != "")] = 4
    address[same_pc] = 3
    address[same_pc & s_present & (sim_s >= 0.85)] = 2
    address[same_pc & s_present & (sa == sb)] = 1
    a_none = (sa == "") & (pca == "") & (ca == "")
    b_none = (sb == "") & (pcb == "") & (cb == "")
    address[a_none | b_none] = 0
    levels[:, 5] = address
    sims["address"] = sim_s

    ya, yb = columns["loyalty"][a], columns["loyalty"][b]
    loyalty = np.where(ya == yb, 1, 2).astype(np.int8)
    loyalty[(ya == "") | (yb == "")] = 0
    levels[:, 6] = loyalty
    return Comparison(levels=levels, similarity=sims, swapped=swapped)
