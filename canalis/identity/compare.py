"""Field comparisons: pairwise compatibility rules and vectorised comparison levels for scoring."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

# Comparison fields and the names of their levels; level 0 of every field means "missing on one side".
# Names: exact, Jaro-Winkler >= 0.92 (close), >= 0.8 or related by initial, prefix or token (compatible),
# >= 0.65 (weak), below (different). Birth dates: exact, one edit of the yyyymmdd digits or day and month
# swapped (typo), two edits (close), different. Address: the street (number and name), postcode and city
# judged together, because they are not independent: same street in the same area, close street (a typo, an
# abbreviation, a missing line, or the area mistyped), same area (postcode and city), part of the area
# (postcode, possibly mistyped, or city), different.
FIELDS: dict[str, tuple[str, ...]] = {
    "given_name": ("missing", "exact", "close", "compatible", "weak", "different"),
    "family_name": ("missing", "exact", "close", "compatible", "weak", "different"),
    "birth_date": ("missing", "exact", "typo", "close", "different"),
    "email": ("missing", "exact", "domain_typo", "local_typo", "different"),
    "phone": ("missing", "exact", "different"),
    "address": ("missing", "same_street", "close_street", "same_area", "partial_area", "different"),
    "loyalty_id": ("missing", "exact", "different"),
}
NAME_WEAK_BELOW = 0.8
NAME_DIFFERENT_BELOW = 0.65
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS)
MAX_LEVELS = max(len(levels) for levels in FIELDS.values())


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity of two strings, 0..1."""
    return JaroWinkler.normalized_similarity(a, b)


def dob_compatible(a: int, b: int) -> bool:
    """Birth dates (yyyymmdd, 0 = missing) that may be the same: equal, or up to two digit edits apart
    (a digit changed, two swapped, the year off by one), or day and month swapped."""
    if not a or not b or a == b:
        return True
    return dob_distance(a, b) <= 2


def dob_typo(a: int, b: int) -> bool:
    """Two different birth dates that look like one typed wrongly (one digit, swapped day/month or digits)."""
    return dob_distance(a, b) <= 1


def dob_swapped(a: int, b: int) -> bool:
    """Same year, day and month swapped."""
    return a // 10000 == b // 10000 and (a // 100) % 100 == b % 100 and a % 100 == (b // 100) % 100


@lru_cache(maxsize=65536)
def dob_distance(a: int, b: int) -> int:
    """Edits between two yyyymmdd dates (see `dob_edits`); pairs of dates recur, so answers are remembered."""
    if a == b:
        return 0
    return int(dob_edits(np.asarray([a], dtype=np.int64), np.asarray([b], dtype=np.int64))[0])


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


def typo_distance_limit(shorter: np.ndarray) -> np.ndarray:
    """Most edits (OSA: a swap of neighbours counts one) a name of this length may carry and stay one name
    mistyped: one from three letters, two from six (jack / xack, dorothy / dprohy)."""
    return np.where(shorter >= 6, 2, np.where(shorter >= 3, 1, 0))


def given_typo(a: str, b: str) -> bool:
    """Two given names within keyboard-slip distance of each other (see `typo_distance_limit`)."""
    if not a or not b:
        return False
    shorter = min(len(a), len(b))
    limit = 2 if shorter >= 6 else 1 if shorter >= 3 else 0  # `typo_distance_limit`, for one pair
    return bool(limit) and OSA.distance(a, b, score_cutoff=limit) <= limit


def given_compatible(a: str, b: str, threshold: float, typos: bool = False) -> bool:
    """Given names that may belong to one person (with `typos`, also names a slip apart: see `given_typo`)."""
    return given_related(a, b) or jaro_winkler(a, b) >= threshold or (typos and given_typo(a, b))


def given_misspelt(a: str, b: str, known: Container[str]) -> bool:
    """Two given names a keyboard slip apart (`given_typo`) of which one is held by a single record of the data
    (not in `known`, the names two records or more hold): a misspelling of the other (dorothy / dorohty), not a
    name in use. Two names both in use (Tim / Tom, Louis / Louise, Alexandrie / Alexandria) may be two members
    of one household or two namesakes. Without names known (`known` empty), nothing is taken for a misspelling.
    """
    return bool(known) and a != b and (a not in known or b not in known) and given_typo(a, b)


def given_confirms(ga: str, fa: str, gb: str, fb: str) -> bool:
    """Given names that confirm one person against a birth date conflict: the same, in place or with both names
    swapped in one record (a close spelling is not enough: Alexandrie and Alexandria Diaz are two people; a
    misspelling is judged on the whole profiles, see `canalis.identity.clusters`)."""
    return bool(ga) and (ga == gb or (bool(fa) and ga == fb and fa == gb))


def family_compatible(a: str, b: str) -> bool:
    """Family names that may belong to one person (equal, close, or sharing a token)."""
    if not a or not b or a == b:
        return True
    if set(a.split()) & set(b.split()):
        return True
    return jaro_winkler(a, b) >= 0.8


def names_compatible(ga: str, fa: str, gb: str, fb: str, threshold: float, given_only: bool = False) -> bool:
    """Names that may belong to one person, also when given and family names were swapped in one system.

    With `given_only`, the family names are not required to agree (a scored link already weighed them: people
    change family names); the given names still must, in place or swapped, a keyboard slip apart at most.
    """
    if ga == gb and fa == fb:
        return True
    if given_only:
        return (
            given_compatible(ga, gb, threshold, typos=True)
            or (bool(ga and fb) and given_compatible(ga, fb, threshold, typos=True))
            or (bool(gb and fa) and given_compatible(fa, gb, threshold, typos=True))
        )
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


def _token_count(street: str) -> int:
    return street.count(" ") + 1 if street else 0


def _number_hash(street: str) -> int:
    """Hash of a street line's house number (its first token starting with a digit), 0 when none."""
    return hash(next((t for t in street.split() if t[:1].isdigit()), "")) if street else 0


def _sorted_line(street: str) -> str:
    """A street line's words sorted (what token_sort_ratio compares)."""
    return " ".join(sorted(street.split()))


def _domain(email: str) -> str:
    return email[email.index("@") + 1 :] if email else ""


def _domain_hash(email: str) -> int:
    return hash(_domain(email))


def score_columns(frame) -> dict[str, np.ndarray]:
    """The frame columns comparisons read, plus derived per-record helpers computed once."""
    columns = {name: frame.array(name) for name in SCORE_COLUMNS}
    n = len(frame)
    # Hash codes stand for the text in equality tests (hash("") is 0, so 0 also means missing).
    for name in SCORE_COLUMNS:
        if name != "dob":
            columns[f"h_{name}"] = np.fromiter(map(hash, getattr(frame, name)), dtype=np.int64, count=n)
    dobs = columns["dob"]
    columns["dob_digits"] = date_digits(dobs)
    columns.update(_per_value(frame.city, columns["h_city"], {"city_first": (_first_code, np.int64)}))
    columns.update(
        _per_value(
            frame.street,
            columns["h_street"],
            {
                "street_compact": (_compact, object),
                "street_tokens": (_token_count, np.int64),
                "h_street_number": (_number_hash, np.int64),
                "street_sorted": (_sorted_line, object),
            },
        )
    )
    columns.update(
        _per_value(
            frame.email,
            columns["h_email"],
            {"email_domain": (_domain, object), "h_email_domain": (_domain_hash, np.int64)},
        )
    )
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


def _cpdist_cutoff(a: np.ndarray, b: np.ndarray, scorer, cutoff: int, workers: int) -> np.ndarray:
    """Distances of the pairs, exact up to `cutoff` (larger ones reported as cutoff + 1)."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    found = process.cpdist(a, b, scorer=scorer, score_cutoff=cutoff, workers=workers)
    return np.asarray(found, dtype=np.float64)


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
    level = np.full(len(equal), 5, dtype=np.int8)
    level[sim >= NAME_DIFFERENT_BELOW] = 4
    level[related | (sim >= NAME_WEAK_BELOW)] = 3
    level[sim >= 0.92] = 2
    level[equal] = 1
    level[~present] = 0
    return level


_POWERS = 10 ** np.arange(7, -1, -1, dtype=np.int64)


def date_digits(values: np.ndarray) -> np.ndarray:
    """The eight digits of yyyymmdd dates, one row per date (int8)."""
    return ((values[:, None] // _POWERS[None, :]) % 10).astype(np.int8)


def _digit_edits(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    differ = dx != dy
    swaps = differ[:, :-1] & differ[:, 1:] & (dx[:, :-1] == dy[:, 1:]) & (dx[:, 1:] == dy[:, :-1])
    # Count non-overlapping swaps from the left (a run such as 3 swapped positions counts one swap).
    taken = np.zeros_like(swaps)
    for i in range(swaps.shape[1]):
        taken[:, i] = swaps[:, i] & ~(taken[:, i - 1] if i else False)
    return differ.sum(axis=1) - taken.sum(axis=1)


def digit_edits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Edits between yyyymmdd dates digit by digit: digits changed, a swap of two neighbours counting as one."""
    return _digit_edits(date_digits(x), date_digits(y))


_DAY_MONTH_SWAPPED = np.array([0, 1, 2, 3, 6, 7, 4, 5])
_YEAR_POWERS = np.array([1000, 100, 10, 1], dtype=np.int64)


def _year_moved(dx: np.ndarray, step: int) -> np.ndarray:
    """The digits of the dates with the year moved by `step`."""
    year = dx[:, :4].astype(np.int64) @ _YEAR_POWERS + step
    out = dx.copy()
    out[:, :4] = (year[:, None] // _YEAR_POWERS[None, :]) % 10
    return out


def dob_edits(x: np.ndarray, y: np.ndarray, dx: np.ndarray | None = None, dy: np.ndarray | None = None) -> np.ndarray:
    """Errors between yyyymmdd dates, exact up to two: digits changed (a swap of neighbours counting as one),
    where a day and month swap and a year off by one each count as one error, alone or with digit errors
    (1977-05-06 and 1978-06-05 are two errors apart, not five digits). `dx`, `dy`: the dates' digits when
    already at hand."""
    dx = date_digits(x) if dx is None else dx
    dy = date_digits(y) if dy is None else dy
    edits = _digit_edits(dx, dy)
    # Another reading can only help pairs two or more digits apart (each reading costs one or two errors), and
    # only bring them to two errors or fewer when the month and day, as written or swapped, differ in two digits
    # at most (pairs further apart may be reported further apart than they are: beyond two, errors do not count).
    swapped_all = dx[:, _DAY_MONTH_SWAPPED]
    near = ((dx[:, 4:] != dy[:, 4:]).sum(axis=1) <= 2) | ((swapped_all[:, 4:] != dy[:, 4:]).sum(axis=1) <= 2)
    idx = np.flatnonzero((edits >= 2) & near)
    if not len(idx):
        return edits
    ex, ey = dx[idx], dy[idx]
    swapped = swapped_all[idx]
    best = edits[idx]
    for other, errors in ((swapped, 1), (_year_moved(ex, 1), 1), (_year_moved(ex, -1), 1),
                          (_year_moved(swapped, 1), 2), (_year_moved(swapped, -1), 2)):  # fmt: skip
        best = np.minimum(best, errors + _digit_edits(other, ey))
    edits[idx] = best
    return edits


def _address_levels(columns: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, workers: int
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Address level of each pair, and the street similarity behind it."""
    n = len(a)
    hs, hpc, hc = columns["h_street"], columns["h_postcode"], columns["h_city"]
    sa, sb, pca, pcb, ca, cb = hs[a], hs[b], hpc[a], hpc[b], hc[a], hc[b]
    pc_present = (pca != 0) & (pcb != 0)
    same_pc = pc_present & (pca == pcb)
    pc_typo = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(pc_present & ~same_pc)
    if len(idx):
        pc_typo[idx] = _cpdist(columns["postcode"][a[idx]], columns["postcode"][b[idx]], OSA.distance, workers) <= 1
    city_present = (ca != 0) & (cb != 0)
    same_city = city_present & (ca == cb)
    idx = np.flatnonzero(city_present & ~same_city & (columns["city_first"][a] == columns["city_first"][b]))
    if len(idx):
        same_city[idx] = _cpdist(columns["city"][a[idx]], columns["city"][b[idx]], JaroWinkler.normalized_similarity,
                                 workers) >= 0.9  # fmt: skip
    s_present = (sa != 0) & (sb != 0)
    s_equal = s_present & (sa == sb)
    sim = np.zeros(n, dtype=np.float64)
    na, nb = columns["h_street_number"][a], columns["h_street_number"][b]
    other_number = (na != 0) & (nb != 0) & (na != nb)
    area = (same_pc | pc_typo) & same_city  # a postcode mistyped in the same city is still that area
    # Street similarity decides a level only when the numbers agree (or are missing) or the area agrees.
    idx = np.flatnonzero(s_present & ~s_equal & (~other_number | area))
    if len(idx):
        # The best of: spelling with spaces ignored, words in any order, and (long lines) one line holding the
        # other's words; each computed only where the cheaper ones left the pair below 90.
        found = _cpdist(columns["street_compact"][a[idx]], columns["street_compact"][b[idx]], fuzz.ratio, workers)
        # token_sort_ratio is the ratio of the lines' words sorted, prepared once per line.
        low = np.flatnonzero(found < 90)
        la, lb = a[idx[low]], b[idx[low]]
        found[low] = np.maximum(found[low], _cpdist(columns["street_sorted"][la], columns["street_sorted"][lb],
                                                    fuzz.ratio, workers))  # fmt: skip
        long = (columns["street_tokens"][la] >= 3) & (columns["street_tokens"][lb] >= 3)
        long = np.flatnonzero(long & (found[low] < 90))
        if len(long):
            xa, xb = columns["street"][la[long]], columns["street"][lb[long]]
            found[low[long]] = np.maximum(found[low[long]], _cpdist(xa, xb, fuzz.token_set_ratio, workers))
        sim[idx] = found / 100
    sim[s_equal] = 1.0
    some_area = same_pc | same_city | pc_typo
    level = np.full(n, 5, dtype=np.int8)
    level[some_area] = 4
    level[area] = 3
    close = s_present & ~other_number & ((sim >= 0.9) | ((sim >= 0.75) & some_area))
    level[close | (s_present & other_number & (sim >= 0.9) & area)] = 2
    level[s_present & ~other_number & (sim >= 0.9) & some_area] = 1
    a_none = (sa == 0) & (pca == 0) & (ca == 0)
    b_none = (sb == 0) & (pcb == 0) & (cb == 0)
    level[a_none | b_none] = 0
    return level, sim


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
    # Given and family names swapped by one system, also when that system holds only one of them.
    cross_g_ok, cross_f_ok = (ga != 0) & (hf[b] != 0), (fa != 0) & (hg[b] != 0)
    # Only pairs whose names may be swapped: a name of one starts like the other kind of name of the other.
    first_g, first_f = columns["h_given_first"], columns["h_family_first"]
    maybe_swapped = (cross_g_ok & (first_g[a] == first_f[b])) | (cross_f_ok & (first_f[a] == first_g[b]))
    cross = np.flatnonzero(maybe_swapped & ~(g_equal & f_equal) & (sim_g + sim_f < 1.84))
    if len(cross):
        ca, cb = a[cross], b[cross]
        ok_g, ok_f = cross_g_ok[cross], cross_f_ok[cross]
        cross_equal_g, cross_equal_f = ok_g & (hg[ca] == hf[cb]), ok_f & (hf[ca] == hg[cb])
        cross_g = np.where(cross_equal_g, 1.0, 0.0)
        cross_f = np.where(cross_equal_f, 1.0, 0.0)
        need_g, need_f = np.flatnonzero(ok_g & ~cross_equal_g), np.flatnonzero(ok_f & ~cross_equal_f)
        if len(need_g):
            cross_g[need_g] = _cpdist(columns["given"][ca[need_g]], columns["family"][cb[need_g]], jw, workers)
        if len(need_f):
            cross_f[need_f] = _cpdist(columns["family"][ca[need_f]], columns["given"][cb[need_f]], jw, workers)
        maybe = ok_g & (columns["h_given_first"][ca] == columns["h_family_first"][cb])
        related = related_names(columns, "given", ca, "family", cb, maybe & (cross_g < 0.92))
        cross_g = np.where(related, np.maximum(cross_g, 0.92), cross_g)
        # Swapped when the crossed names agree clearly better than the names in place: both crossed names close,
        # or one of them the same (the other may be replaced or mistyped: its own level says so).
        better = (
            ((~ok_g | (cross_g >= 0.85)) & (~ok_f | (cross_f >= 0.85))) | (np.maximum(cross_g, cross_f) >= 0.92)
        ) & (cross_g + cross_f > sim_g[cross] + sim_f[cross] + 0.2)
        chosen = cross[better]
        swapped[chosen] = True
        sim_g[chosen], sim_f[chosen] = cross_g[better], cross_f[better]
        g_present[chosen], f_present[chosen] = cross_g_ok[chosen], cross_f_ok[chosen]
        g_equal[chosen] = cross_equal_g[better]
        f_equal[chosen] = cross_equal_f[better]
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
    # Edits between the given names (in place or swapped) that no similarity relates: a slip (jack / xack) is
    # not the other given name of a household member, whatever Jaro-Winkler says of short names.
    given_edits = np.full(n, 99.0)
    given_edits[g_equal] = 0.0
    idx = np.flatnonzero(g_present & ~g_equal & (sim_g < 0.92))
    if len(idx):
        # Only names whose lengths differ by no more than the slips they may carry.
        ia, ib = a[idx], b[idx]
        other_length = np.where(swapped[idx], columns["family_length"][ib], columns["given_length"][ib])
        own_length = columns["given_length"][ia]
        limit = typo_distance_limit(np.minimum(own_length, other_length))
        keep = (limit > 0) & (np.abs(own_length - other_length) <= limit)
        idx, ia, ib, limit = idx[keep], ia[keep], ib[keep], limit[keep]
        other = np.where(swapped[idx], columns["family"][ib], columns["given"][ib])
        found = _cpdist_cutoff(columns["given"][ia], other, OSA.distance, 2, workers)
        given_edits[idx] = np.where(found <= limit, found, 99.0)
    sims["given_edits"] = given_edits
    levels[:, 0] = _levels(g_equal, sim_g, g_present, given_related_)
    levels[:, 1] = _levels(f_equal, sim_f, f_present, family_related)
    sims["given_name"], sims["family_name"] = sim_g, sim_f

    da, db = columns["dob"][a], columns["dob"][b]
    dob = np.full(n, 4, dtype=np.int8)
    differ = np.flatnonzero((da != db) & (da > 0) & (db > 0))
    if len(differ):
        x, y = da[differ], db[differ]
        digits = columns["dob_digits"]
        edits = dob_edits(x, y, digits[a[differ]], digits[b[differ]])
        dob[differ[edits <= 2]] = 3
        dob[differ[edits <= 1]] = 2
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
            close = np.flatnonzero(_cpdist(local[ta], local[tb], OSA.distance, workers) <= 1)
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

    levels[:, 5], sims["address"] = _address_levels(columns, a, b, workers)

    hy = columns["h_loyalty"]
    ya, yb = hy[a], hy[b]
    loyalty = np.where(ya == yb, 1, 2).astype(np.int8)
    loyalty[(ya == 0) | (yb == 0)] = 0
    levels[:, 6] = loyalty
    return Comparison(levels=levels, similarity=sims, swapped=swapped)
