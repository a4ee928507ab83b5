"""Contacts with the variety of real data, for the benchmarks: no normalisation cache should flatter the figures.

Names, streets and cities are drawn once from Faker in several European locales (thousands of distinct values of
each); every contact then combines them at random, with phones in several national and international formats,
emails in mixed case, accents, missing values and some shared addresses, as exports from real systems hold them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from faker import Faker

LOCALES: tuple[tuple[str, str, str], ...] = (
    ("fr_FR", "France", "FR"),
    ("fr_BE", "Belgique", "BE"),
    ("fr_CH", "Suisse", "CH"),
    ("de_DE", "Deutschland", "DE"),
    ("es_ES", "España", "ES"),
    ("it_IT", "Italia", "IT"),
    ("pt_PT", "Portugal", "PT"),
    ("nl_NL", "Nederland", "NL"),
    ("en_GB", "United Kingdom", "GB"),
)
DRAWS_PER_LOCALE = 1500
DOMAINS = ("gmail.com", "orange.fr", "hotmail.fr", "free.fr", "yahoo.fr", "outlook.com", "icloud.com", "laposte.net")


@dataclass(frozen=True)
class Pools:
    """Distinct values to combine: names, streets and (postcode, city, country, country code) places."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    places: tuple[tuple[str, str, str, str], ...]

    def sizes(self) -> dict[str, int]:
        """How many distinct values each pool holds."""
        return {
            "first_names": len(self.first_names),
            "last_names": len(self.last_names),
            "streets": len(self.streets),
            "cities": len({place[1] for place in self.places}),
        }


@cache
def pools(seed: int = 7) -> Pools:
    """The pools drawn from Faker for a seed (the same seed gives the same pools)."""
    first: set[str] = set()
    last: set[str] = set()
    streets: set[str] = set()
    places: set[tuple[str, str, str, str]] = set()
    for n, (locale, country, code) in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + n)
        for _ in range(DRAWS_PER_LOCALE):
            first.add(fake.first_name())
            last.add(fake.last_name())
            streets.add(fake.street_name())
            places.add((fake.postcode(), fake.city(), country, code))
    return Pools(tuple(sorted(first)), tuple(sorted(last)), tuple(sorted(streets)), tuple(sorted(places)))


def phone(rng: random.Random, n: int) -> str:
    """A French mobile number written in one of the formats people and systems use."""
    digits = f"{rng.choice('67')}{(n * 7919 + 12345) % 100_000_000:08d}"
    spaced = f"{digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
    forms = (
        f"+33{digits}",
        f"+33 {digits[0]} {spaced}",
        f"0{digits[0]} {spaced}",
        f"0{digits}",
        f"0{digits[0]}.{spaced.replace(' ', '.')}",
        f"0033{digits}",
        f"+33 (0){digits}",
        f"0{digits[0]}-{spaced.replace(' ', '-')}",
    )
    return rng.choice(forms)


def contact(n: int, rng: random.Random, drawn: Pools) -> dict[str, Any]:
    """The n-th contact: a unique email, names, phone and address combined at random, some values missing."""
    first, last = rng.choice(drawn.first_names), rng.choice(drawn.last_names)
    postcode, city, country, code = rng.choice(drawn.places)
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    email = f"{local}.{n}@{rng.choice(DOMAINS)}"
    roll = rng.random()
    return {
        "first_name": first if roll > 0.02 else None,
        "last_name": last.upper() if roll > 0.9 else last,
        "email": email.upper() if roll < 0.1 else (email.capitalize() if roll < 0.15 else email),
        "phone": phone(rng, n) if rng.random() > 0.15 else None,
        "birth_date": f"{rng.randint(1940, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() > 0.3
        else None,
        "street": f"{rng.randint(1, 250)} {rng.choice(drawn.streets)}" if rng.random() > 0.1 else None,
        "postcode": postcode,
        "city": city,
        "country": country,
        "country_code": code,
        "accepts_marketing": rng.random() < 0.6,
    }
