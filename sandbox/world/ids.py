"""Vendor-shaped identifiers: Salesforce 18-character ids, Square opaque ids, Shopify gids, counters."""

from __future__ import annotations

import hashlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SPACE = 62**6

SALESFORCE_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Case": "500",
    "Task": "00T",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "User": "005",
}


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character Salesforce id case-insensitive."""
    suffix = ""
    for block in range(3):
        bits = 0
        for position, char in enumerate(id15[block * 5 : block * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _CHECKSUM[bits]
    return suffix


def salesforce_id(sobject: str, n: int) -> str:
    """The n-th 18-character id of an sObject type, with its key prefix."""
    offset = int.from_bytes(hashlib.blake2b(sobject.encode(), digest_size=4).digest(), "big")
    scrambled = (n * 387_420_489 + offset) % _SPACE
    body = ""
    for _ in range(6):
        scrambled, digit = divmod(scrambled, 62)
        body = BASE62[digit] + body
    id15 = f"{SALESFORCE_PREFIXES[sobject]}5g0000{body}"
    return id15 + salesforce_checksum(id15)


_TRIPLE = 36**3
_TRIPLES: tuple[str, ...] = tuple(BASE36[v % 36] + BASE36[v // 36 % 36] + BASE36[v // 1296] for v in range(_TRIPLE))
"""Every number below 36**3 as three base-36 digits, least significant first."""


_SIX = _TRIPLE * _TRIPLE


def opaque_id(label: str, n: int, length: int) -> str:
    """A deterministic uppercase alphanumeric id in Square's style.

    The hash's base-36 digits, least significant first: one division of the large number per six digits, then one
    small division and two table lookups for the two groups of three.
    """
    value = int.from_bytes(hashlib.blake2b(f"{label}:{n}".encode(), digest_size=20).digest(), "big")
    triples, parts = _TRIPLES, []
    for _ in range((length + 5) // 6):
        value, six = divmod(value, _SIX)
        high, low = divmod(six, _TRIPLE)
        parts.append(triples[low])
        parts.append(triples[high])
    return "".join(parts)[:length]


def shopify_gid(resource: str, numeric: int) -> str:
    """A Shopify GraphQL global id."""
    return f"gid://shopify/{resource}/{numeric}"


class Counters:
    """Sequential numbers per (system, object type), the source of every generated id."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.last: dict[tuple[str, str], int] = {}

    def next(self, system: str, object_type: str) -> int:
        """The next number for a type, starting at start + 1."""
        key = (system, object_type)
        value = self.last.get(key, self.start) + 1
        self.last[key] = value
        return value
