"""Person names: a folded comparison key (case, accents, punctuation, particles) and a phonetic key for blocking."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# Letters that Unicode decomposition does not reduce to ASCII.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "\u0131": "i"}
)  # fmt: skip
_SEPARATORS = re.compile(r"[\s'\u2019\u2018`\u00b4\-\u2010\u2011\u2012\u2013\u2014.,;:_/&+]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9 ]+")

# Name particles dropped from the comparison key ("de la Fontaine" and "Fontaine" compare equal).
PARTICLES: frozenset[str] = frozenset(
    {"d", "da", "dal", "das", "de", "degli", "dei", "del", "della", "den", "der", "des", "di", "do", "dos",
     "du", "l", "la", "le", "les", "ten", "ter", "van", "vande", "vander", "von", "zu", "y", "al", "el"}
)  # fmt: skip
# Courtesy titles dropped from the comparison key.
TITLES: frozenset[str] = frozenset(
    {"m", "mr", "mrs", "ms", "miss", "mme", "mlle", "mmes", "dr", "pr", "prof", "monsieur", "madame",
     "mademoiselle", "sir", "herr", "frau"}
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """Text without accents and ligatures, lower-cased (É -> e, ß -> ss, œ -> oe)."""
    if text.isascii():
        return text.lower()
    text = text.translate(_SPECIAL_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=262144)
def _fold(text: str) -> str:
    folded = _NOT_ALNUM.sub("", _SEPARATORS.sub(" ", ascii_fold(text)))
    tokens = folded.split()
    kept = [t for t in tokens if t not in TITLES] or tokens
    core = [t for t in kept if t not in PARTICLES] or kept
    return " ".join(core)


def fold_name(raw: Any) -> str:
    """Comparison key of a name: no case, accents, hyphens, apostrophes, titles, particles or extra spaces.

    "Jean-François d'Arc" -> "jean francois arc". Keep the original for display; an empty input gives "".
    """
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    return _fold(text.strip()) if text else ""


_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[^a-z]", ""),
        (r"^mac", "mc"),
        (r"sch", "ch"),
        (r"ph", "f"),
        (r"gh", "g"),
        (r"th", "t"),
        (r"ck|q|qu", "k"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"x", "ks"),
        (r"z", "s"),
        (r"w", "v"),
        (r"y", "i"),
        (r"(?<=.)h", ""),
        (r"(.)\1+", r"\1"),
    )
)


@lru_cache(maxsize=262144)
def phonetic_key(folded: str, length: int = 6) -> str:
    """A sound-alike key of a folded name for blocking: first letter, then consonants ("dupont", "dupond" -> "dpnt").

    Final d/t/s/x/e, silent in French, are merged; vowels after the first letter are dropped.
    """
    word = folded.replace(" ", "")
    if not word:
        return ""
    for pattern, replacement in _PHONETIC_RULES:
        word = pattern.sub(replacement, word)
    if not word:
        return ""
    word = re.sub(r"(?<=.)[sx]$", "", word)
    word = re.sub(r"(?<=.)d$", "t", word)
    head, tail = word[0], re.sub(r"[aeiou]", "", word[1:])
    key = re.sub(r"(.)\1+", r"\1", head + tail)
    return key[:length]


def initial(folded: str) -> str:
    """First letter of a folded name, or ""."""
    return folded[:1]
