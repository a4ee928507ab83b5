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


_NOT_LETTERS = str.maketrans("", "", "0123456789.-_+'!#$%&*/=?^`{|}~")


def _letters(text: str) -> str:
    return text.translate(_NOT_LETTERS)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def email_typo(x: str, y: str) -> bool:
    """Two close local parts that look like one address mistyped: letters changed or characters swapped.

    Different numbers (jean.martin18, jean.martin21) or another separator (jean.martin, jean_martin,
    jeanmartin) are other addresses, often of namesakes.
    """
    if _digits(x) != _digits(y):
        return False
    return _letters(x) != _letters(y) or sorted(x) == sorted(y)


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


def _per_value(values: list[str], hashes: np.ndarray, functions: dict[str, tuple]) -> dict[str, np.ndarray]:
    """function(value) for every row, computed once per distinct value (names repeat a lot)."""
    distinct, first = np.unique(hashes, return_index=True)
    where = np.searchsorted(distinct, hashes)
    samples = [values[i] for i in first.tolist()]
    return {
        name: np.array([function(v) for v in samples], dtype=dtype)[where]
        for name, (function, dtype) in functions.items()
    }


def _first3(value: str) -> str:
    return value[:3]


def _token(value: str) -> str:
    return value.split(" ", 1)[0]


def _compact(value: str) -> str:
    return value.replace(" ", "")


def _first_code(value: str) -> int:
    return ord(value[0]) if value else 0


def _multi(value: str) -> bool:
    return " " in value


def score_columns(frame) -> dict[str, np.ndarray]:
    """The frame columns comparisons read, plus derived per-record helpers computed once."""
    columns = {name: frame.array(name) for name in SCORE_COLUMNS}
    n = len(frame)
    # Hash codes stand for the text in equality tests (hash("") is 0, so 0 also means missing).
    for name in SCORE_COLUMNS:
        if name != "dob":
            columns[f"h_{name}"] = np.fromiter(map(hash, getattr(frame, name)), dtype=np.int64, count=n)
    domains = [e[e.index("@") + 1 :] if e else "" for e in frame.email]
    columns["email_domain"] = np.array(domains, dtype=object)
    columns["h_email_domain"] = np.fromiter(map(hash, domains), dtype=np.int64, count=n)
    for name in ("given", "family"):
        derived = _per_value(
            getattr(frame, name),
            columns[f"h_{name}"],
            {
                f"h_{name}_first": (_first_code, np.int64),
                f"{name}_multi": (_multi, bool),
                f"{name}_first3": (_first3, object),
                f"{name}_token": (_token, object),
                f"{name}_compact": (_compact, object),
                f"{name}_initials": (initials, object),
                f"{name}_length": (len, np.int64),
            },
        )
        columns.update(derived)
    return columns


def related_names(
    columns: dict[str, np.ndarray], x: str, a: np.ndarray, y: str, b: np.ndarray, todo: np.ndarray
) -> np.ndarray:
    """`given_related` for many pairs at once: name column x of rows a against name column y of rows b."""
    out = np.zeros(len(a), dtype=bool)
    idx = np.flatnonzero(todo)
    if not len(idx):
        return out
    ia, ib = a[idx], b[idx]
    found = columns[f"{x}_token"][ia] == columns[f"{y}_token"][ib]
    found |= columns[f"{x}_compact"][ia] == columns[f"{y}_initials"][ib]
    found |= columns[f"{y}_compact"][ib] == columns[f"{x}_initials"][ia]
    la, lb = columns[f"{x}_length"][ia], columns[f"{y}_length"][ib]
    short = np.minimum(la, lb)
    same3 = columns[f"{x}_first3"][ia] == columns[f"{y}_first3"][ib]
    found |= (short >= 3) & (short <= 5) & same3
    check = np.flatnonzero(~found & (same3 | (short < 3)))
    if len(check):
        xs, ys = columns[x][ia[check]], columns[y][ib[check]]
        found[check] = [p.startswith(q) or q.startswith(p) for p, q in zip(xs, ys, strict=True)]
    out[idx] = found
    return out


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


def _name_levels(a: np.ndarray, b: np.ndarray, sim: np.ndarray, present: np.ndarray, related: np.ndarray) -> np.ndarray:
    level = np.full(len(a), 4, dtype=np.int8)
    level[related | (sim >= 0.8)] = 3
    level[sim >= 0.92] = 2
    level[a == b] = 1
    level[~present] = 0
    return level


def _related(x: np.ndarray, y: np.ndarray, sim: np.ndarray, todo: np.ndarray, family: bool) -> np.ndarray:
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


def _similarity(columns: dict[str, np.ndarray], name: str, a: np.ndarray, b: np.ndarray, todo: np.ndarray,
                scorer, workers: int) -> np.ndarray:  # fmt: skip
    """Similarity of column `name` for pairs marked `todo` (others 0)."""
    out = np.zeros(len(a), dtype=np.float64)
    idx = np.flatnonzero(todo)
    if len(idx):
        out[idx] = _cpdist(columns[name][a[idx]], columns[name][b[idx]], scorer, workers)
    return out


def _levels(equal: np.ndarray, sim: np.ndarray, present: np.ndarray, related: np.ndarray) -> np.ndarray:
    level = np.full(len(equal), 4, dtype=np.int8)
    level[related | (sim >= 0.8)] = 3
    level[sim >= 0.92] = 2
    level[equal] = 1
    level[~present] = 0
    return level


def compare(columns: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, workers: int = 1) -> Comparison:
    """Compare rows a[i] and b[i] of the frame columns on every field.

    Equality and presence use the hash codes of the texts; string similarities are computed only for the
    pairs that need them.
    """
    n = len(a)
    jw = JaroWinkler.normalized_similarity
    levels = np.zeros((n, len(FIELD_NAMES)), dtype=np.int8)
    sims: dict[str, np.ndarray] = {}
    hg, hf = columns["h_given"], columns["h_family"]
    ga, gb, fa, fb = hg[a], hg[b], hf[a], hf[b]
    g_present = (ga != 0) & (gb != 0)
    f_present = (fa != 0) & (fb != 0)
    g_equal, f_equal = g_present & (ga == gb), f_present & (fa == fb)
    sim_g = _similarity(columns, "given", a, b, g_present & ~g_equal, jw, workers)
    sim_f = _similarity(columns, "family", a, b, f_present & ~f_equal, jw, workers)
    sim_g[g_equal], sim_f[f_equal] = 1.0, 1.0
    swapped = np.zeros(n, dtype=bool)
    cross = np.flatnonzero(g_present & f_present & ~(g_equal & f_equal))
    if len(cross):
        ca, cb = a[cross], b[cross]
        cross_equal_g, cross_equal_f = hg[ca] == hf[cb], hf[ca] == hg[cb]
        cross_g = np.where(cross_equal_g, 1.0, 0.0)
        cross_f = np.where(cross_equal_f, 1.0, 0.0)
        need_g, need_f = np.flatnonzero(~cross_equal_g), np.flatnonzero(~cross_equal_f)
        if len(need_g):
            cross_g[need_g] = _cpdist(columns["given"][ca[need_g]], columns["family"][cb[need_g]], jw, workers)
        if len(need_f):
            cross_f[need_f] = _cpdist(columns["family"][ca[need_f]], columns["given"][cb[need_f]], jw, workers)
        maybe = columns["h_given_first"][ca] == columns["h_family_first"][cb]
        related = related_names(columns, "given", ca, "family", cb, maybe & (cross_g < 0.92))
        cross_g = np.where(related, np.maximum(cross_g, 0.92), cross_g)
        better = (cross_g >= 0.92) & (cross_f >= 0.92) & (cross_g + cross_f > sim_g[cross] + sim_f[cross] + 0.2)
        chosen = cross[better]
        swapped[chosen] = True
        sim_g[chosen], sim_f[chosen] = cross_g[better], cross_f[better]
        g_equal[chosen] = ga[chosen] == hf[b[chosen]]
        f_equal[chosen] = fa[chosen] == hg[b[chosen]]
    first_b = np.where(swapped, columns["h_family_first"][b], columns["h_given_first"][b])
    given_todo = g_present & ~g_equal & (columns["h_given_first"][a] == first_b) & (sim_g < 0.8)
    given_related_ = related_names(columns, "given", a, "given", b, given_todo & ~swapped)
    given_related_ |= related_names(columns, "given", a, "family", b, given_todo & swapped)
    multi_b = np.where(swapped, columns["given_multi"][b], columns["family_multi"][b])
    family_todo = np.flatnonzero(f_present & ~f_equal & (sim_f < 0.8) & (columns["family_multi"][a] | multi_b))
    family_related = np.zeros(n, dtype=bool)
    if len(family_todo):
        own = columns["family"][a[family_todo]]
        other = np.where(swapped[family_todo], columns["given"][b[family_todo]], columns["family"][b[family_todo]])
        family_related[family_todo] = [bool(set(x.split()) & set(y.split())) for x, y in zip(own, other, strict=True)]
    levels[:, 0] = _levels(g_equal, sim_g, g_present, given_related_)
    levels[:, 1] = _levels(f_equal, sim_f, f_present, family_related)
    sims["given_name"], sims["family_name"] = sim_g, sim_f

    da, db = columns["dob"][a], columns["dob"][b]
    dob = np.full(n, 3, dtype=np.int8)
    differ = np.flatnonzero((da != db) & (da > 0) & (db > 0))
    typo = np.fromiter((dob_typo(int(x), int(y)) for x, y in zip(da[differ], db[differ], strict=True)),
                       dtype=bool, count=len(differ))  # fmt: skip
    dob[differ[typo]] = 2
    dob[da == db] = 1
    dob[(da == 0) | (db == 0)] = 0
    levels[:, 2] = dob

    he = columns["h_email"]
    ea, eb = he[a], he[b]
    email = np.full(n, 4, dtype=np.int8)
    differ = np.flatnonzero((ea != 0) & (eb != 0) & (ea != eb))
    if len(differ):
        xa, xb = a[differ], b[differ]
        same_local = columns["h_email_local"][xa] == columns["h_email_local"][xb]
        same_domain = columns["h_email_domain"][xa] == columns["h_email_domain"][xb]
        level = np.full(len(differ), 4, dtype=np.int8)
        level[same_local & same_domain] = 1
        typo_domain = np.flatnonzero(same_local & ~same_domain)
        if len(typo_domain):
            ta, tb = xa[typo_domain], xb[typo_domain]
            near = _cpdist(columns["email_domain"][ta], columns["email_domain"][tb], OSA.distance, workers) <= 2
            level[typo_domain[near]] = 2
        typo_local = np.flatnonzero(same_domain & ~same_local)
        if len(typo_local):
            ta, tb = xa[typo_local], xb[typo_local]
            local = columns["email_local"]
            close = np.flatnonzero(_cpdist(local[ta], local[tb], OSA.distance, workers) <= 2)
            real = np.fromiter(
                (email_typo(x, y) for x, y in zip(local[ta[close]], local[tb[close]], strict=True)),
                dtype=bool,
                count=len(close),
            )
            level[typo_local[close[real]]] = 3
        email[differ] = level
    email[ea == eb] = 1
    email[(ea == 0) | (eb == 0)] = 0
    levels[:, 3] = email

    hp = columns["h_phone"]
    pa, pb = hp[a], hp[b]
    phone = np.where(pa == pb, 1, 2).astype(np.int8)
    phone[(pa == 0) | (pb == 0)] = 0
    levels[:, 4] = phone

    hs, hpc, hc = columns["h_street"], columns["h_postcode"], columns["h_city"]
    sa, sb, pca, pcb, ca_, cb_ = hs[a], hs[b], hpc[a], hpc[b], hc[a], hc[b]
    s_present = (sa != 0) & (sb != 0)
    same_pc = (pca == pcb) & (pca != 0)
    s_equal = s_present & (sa == sb)
    sim_s = _similarity(columns, "street", a, b, s_present & ~s_equal & same_pc, fuzz.token_sort_ratio, workers) / 100
    sim_s[s_equal] = 1.0
    address = np.full(n, 5, dtype=np.int8)
    address[(ca_ == cb_) & (ca_ != 0)] = 4
    address[same_pc] = 3
    address[same_pc & s_present & (sim_s >= 0.85)] = 2
    address[same_pc & s_equal] = 1
    a_none = (sa == 0) & (pca == 0) & (ca_ == 0)
    b_none = (sb == 0) & (pcb == 0) & (cb_ == 0)
    address[a_none | b_none] = 0
    levels[:, 5] = address
    sims["address"] = sim_s

    hy = columns["h_loyalty"]
    ya, yb = hy[a], hy[b]
    loyalty = np.where(ya == yb, 1, 2).astype(np.int8)
    loyalty[(ya == 0) | (yb == 0)] = 0
    levels[:, 6] = loyalty
    return Comparison(levels=levels, similarity=sims, swapped=swapped)
