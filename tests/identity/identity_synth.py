"""A small synthetic population for identity tests: people copied into several systems with realistic drift.

Ground truth (person id per record key) is returned beside the records; the engine never sees it.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from canalis.identity import IdentityRecord

GIVEN = [
    "Jean",
    "Marie",
    "Pierre",
    "Sophie",
    "Nicolas",
    "Camille",
    "Julien",
    "Céline",
    "Thomas",
    "Léa",
    "Hélène",
    "François",
    "Amélie",
    "Sébastien",
    "Chloé",
    "Antoine",
    "Élodie",
    "Mathieu",
    "Inès",
    "Raphaël",
    "Zoé",
    "Jean-Pierre",
    "Anne-Sophie",
    "Benoît",
    "Gaëlle",
    "Loïc",
    "Maëlle",
    "Yannick",
    "Solène",
    "Grégoire",
]
FAMILY = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Le Goff",
    "de la Fontaine",
    "Kerhervé",
    "Nguyen",
    "Da Silva",
    "Müller",
    "O'Brien",
    "Rousseau",
    "Blanc",
]
STREETS = [
    "rue de la République",
    "avenue Victor Hugo",
    "boulevard Saint-Germain",
    "rue Pasteur",
    "place du Marché",
    "chemin des Vignes",
    "allée des Tilleuls",
    "rue Jean Jaurès",
    "quai de Seine",
]
CITIES = [
    ("Paris", "75011"),
    ("Paris", "75015"),
    ("Lyon", "69003"),
    ("Nantes", "44000"),
    ("Lille", "59000"),
    ("Rennes", "35000"),
    ("Bordeaux", "33000"),
    ("Nice", "06000"),
]
ABBREV = {"avenue": "av.", "boulevard": "bd", "rue": "r.", "place": "pl.", "chemin": "ch.", "allée": "all."}
NICK = {"Nicolas": "Nico", "Sébastien": "Seb", "Thomas": "Tom", "Mathieu": "Matt", "Jean-Pierre": "JP"}
SOURCES = ["crm", "shop", "pos", "newsletter", "support", "erp"]
STORE_PHONE = "01 40 00 00 00"


def fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@dataclass
class Person:
    pid: str
    given: str
    family: str
    birth: date
    email: str
    phone: str
    street: str
    city: str
    postcode: str
    loyalty: str | None
    old_address: tuple[str, str, str] | None = None
    tags: set[str] = field(default_factory=set)


@dataclass
class World:
    records: list[IdentityRecord]
    truth: dict[str, str]
    people: dict[str, Person]
    traps: list[tuple[str, str, str]]

    def true_pairs(self) -> set[tuple[str, str]]:
        by_person: dict[str, list[str]] = {}
        for key, pid in self.truth.items():
            by_person.setdefault(pid, []).append(key)
        out = set()
        for keys in by_person.values():
            keys.sort()
            out.update((a, b) for i, a in enumerate(keys) for b in keys[i + 1 :])
        return out


def _email(given: str, family: str, rng: random.Random, n: int) -> str:
    g, f = fold(given).lower().replace(" ", "").replace("-", ""), fold(family).lower().replace(" ", "").replace("'", "")
    local = rng.choice([f"{g}.{f}", f"{g}{f}", f"{g[0]}{f}", f"{f}.{g}"])
    return f"{local}{n}@{rng.choice(['gmail.com', 'orange.fr', 'free.fr', 'yahoo.fr', 'laposte.net'])}"


def _phone(rng: random.Random) -> str:
    return "0" + rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))


def _make_person(i: int, rng: random.Random) -> Person:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    city, postcode = rng.choice(CITIES)
    return Person(
        pid=f"P{i:05d}", given=given, family=family,
        birth=date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50)),
        email=_email(given, family, rng, i), phone=_phone(rng),
        street=f"{rng.randint(1, 150)} {rng.choice(STREETS)}", city=city, postcode=postcode,
        loyalty=f"FID{i:08d}" if rng.random() < 0.4 else None,
    )  # fmt: skip


def _phone_style(phone: str, rng: random.Random) -> str:
    digits = phone[1:]
    pairs = " ".join(phone[i : i + 2] for i in range(0, 10, 2))
    return rng.choice(
        [phone, pairs, pairs.replace(" ", "."), "+33" + digits, "+33 " + digits[0] + " " + digits[1:], "0033" + digits]
    )


def _copy(person: Person, source: str, n: int, rng: random.Random, moment: datetime) -> IdentityRecord:
    given, family = person.given, person.family
    if rng.random() < 0.08 and given in NICK:
        given = NICK[given]
    if rng.random() < 0.15:
        given, family = fold(given), fold(family)
    if rng.random() < 0.1:
        family = family.upper()
    if rng.random() < 0.03 and len(family) > 5:
        k = rng.randrange(1, len(family) - 2)
        family = family[:k] + family[k + 1] + family[k] + family[k + 2 :]
    if rng.random() < 0.02:
        given, family = family, given
    email = person.email
    if rng.random() < 0.1:
        email = email.upper() if rng.random() < 0.5 else email.capitalize()
    if rng.random() < 0.04:
        local, domain = email.split("@")
        email = f"{local}@{domain.replace('o', 'oo', 1)}"
    street, city, postcode = person.street, person.city, person.postcode
    if person.old_address and rng.random() < 0.5:
        street, city, postcode = person.old_address
    for word, short in ABBREV.items():
        if word in street and rng.random() < 0.4:
            street = street.replace(word, short)
    has = {
        "email": rng.random() > (0.5 if source == "pos" else 0.05),
        "phone": rng.random() > (0.7 if source == "newsletter" else 0.2),
        "address": source not in ("newsletter", "support") and rng.random() > 0.15,
        "birth": source in ("crm", "erp") and rng.random() < 0.6,
    }
    if not has["email"] and not has["phone"]:
        has["phone"] = True
    return IdentityRecord(
        source=source, source_id=f"{source[:2].upper()}{n:06d}", object="customers" if source != "support" else None,
        given_name=given, family_name=family, email=email if has["email"] else None,
        phone=_phone_style(person.phone, rng) if has["phone"] else None,
        birth_date=person.birth if has["birth"] else None,
        street=street if has["address"] else None, postcode=postcode if has["address"] else None,
        city=city if has["address"] else None, country=rng.choice(["FR", "France", None]),
        loyalty_id=person.loyalty if source in ("pos", "shop") else None,
        updated_at=moment - timedelta(days=rng.randrange(0, 700)),
    )  # fmt: skip


def make_world(people: int = 400, seed: int = 7) -> World:
    """People with 1-4 records each, plus households, namesakes, a store phone and a role address."""
    rng = random.Random(seed)
    moment = datetime(2026, 1, 15, tzinfo=UTC)
    persons: list[Person] = []
    traps: list[tuple[str, str, str]] = []
    for i in range(people):
        person = _make_person(i, rng)
        roll = rng.random()
        if persons and roll < 0.06:
            partner = persons[-1]
            person.family, person.street, person.city, person.postcode = (
                partner.family,
                partner.street,
                partner.city,
                partner.postcode,
            )
            person.email = partner.email
            while person.given == partner.given:
                person.given = rng.choice(GIVEN)
            person.tags.add("household")
            traps.append(("household", partner.pid, person.pid))
        elif persons and roll < 0.1:
            twin = rng.choice(persons)
            person.given, person.family = twin.given, twin.family
            person.tags.add("namesake")
            traps.append(("namesake", twin.pid, person.pid))
        elif roll < 0.15:
            person.old_address = (f"{rng.randint(1, 150)} {rng.choice(STREETS)}", *rng.choice(CITIES))
        persons.append(person)
    records: list[IdentityRecord] = []
    truth: dict[str, str] = {}
    n = 0
    for person in persons:
        count = rng.choices([1, 2, 3, 4], weights=[3, 4, 3, 1])[0]
        for source in rng.sample(SOURCES, count):
            n += 1
            record = _copy(person, source, n, rng, moment)
            records.append(record)
            truth[record.key] = person.pid
    store_people = rng.sample(persons, 12)
    for person in store_people:
        n += 1
        record = _copy(person, "pos", n, rng, moment)
        record.phone, record.email = STORE_PHONE, None
        records.append(record)
        truth[record.key] = person.pid
    traps.extend(("store_phone", a.pid, b.pid) for a, b in pairwise(store_people))
    staff = rng.sample(persons, 5)
    for person in staff:
        n += 1
        record = _copy(person, "crm", n, rng, moment)
        record.email = "contact@acme-industrie.fr"
        records.append(record)
        truth[record.key] = person.pid
    traps.extend(("role_address", a.pid, b.pid) for a, b in pairwise(staff))
    rng.shuffle(records)
    return World(records=records, truth=truth, people={p.pid: p for p in persons}, traps=traps)


def pairwise_quality(clusters: dict[str, list[str]], world: World) -> dict[str, float]:
    """Precision, recall and F1 of the predicted same-customer pairs against the truth."""
    predicted = set()
    for keys in clusters.values():
        keys = sorted(keys)
        predicted.update((a, b) for i, a in enumerate(keys) for b in keys[i + 1 :])
    true = world.true_pairs()
    hits = len(predicted & true)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def merged_traps(engine, world: World) -> list[tuple[str, str, str]]:
    """Trap pairs of different people whose records ended up in one customer."""
    by_person: dict[str, set[str]] = {}
    for key, pid in world.truth.items():
        cid = engine.customer_of(key)
        if cid:
            by_person.setdefault(pid, set()).add(cid)
    return [t for t in world.traps if by_person.get(t[1], set()) & by_person.get(t[2], set())]
