"""The people of the world: name and place pools drawn once, and persons streamed in seeded chunks."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Generic, TypeVar

from faker import Faker

from canalis.sandbox.world.rng import WorldRandom
from canalis.sandbox.world.spec import WorldSpec

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Place:
    """A city with its postcode range, region and country."""

    city: str
    postcodes: tuple[str, ...]
    region: str
    country_code: str
    country: str


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as the person would give it in full."""

    number: str
    street_type: str
    street_name: str
    postcode: str
    city: str
    region: str
    country_code: str
    country: str

    @property
    def street(self) -> str:
        """The street line written in full."""
        if self.country_code == "FR":
            return f"{self.number} {self.street_type} {self.street_name}"
        return f"{self.number} {self.street_name} {self.street_type}"


@dataclass(frozen=True, slots=True)
class Company:
    """An employer for business customers."""

    name: str
    domain: str


@dataclass(slots=True)
class Person:
    """One real human of the world, the ground truth behind every channel record."""

    person_id: str
    index: int
    language: str
    gender: str
    given_name: str
    family_name: str
    birth_date: date
    email: str
    phone: str
    address: Address
    first_seen: datetime
    consent: str
    loyalty_id: str | None = None
    old_address: Address | None = None
    company: Company | None = None
    email_shared: bool = False
    household_of: str | None = None
    namesake_of: str | None = None
    systems: set[str] = field(default_factory=set)
    faults: dict[str, str] = field(default_factory=dict)


FR_PLACES: tuple[Place, ...] = tuple(
    Place(city, tuple(codes.split()), region, "FR", "France")
    for city, codes, region in (
        (
            "Paris",
            "75001 75003 75004 75005 75006 75008 75010 75011 75012 75014 75015 75017 75018 75020",
            "Île-de-France",
        ),
        ("Lyon", "69001 69002 69003 69004 69006 69007 69008", "Auvergne-Rhône-Alpes"),
        ("Marseille", "13001 13004 13006 13008 13012", "Provence-Alpes-Côte d'Azur"),
        ("Toulouse", "31000 31200 31400 31500", "Occitanie"),
        ("Nice", "06000 06100 06200", "Provence-Alpes-Côte d'Azur"),
        ("Nantes", "44000 44100 44300", "Pays de la Loire"),
        ("Strasbourg", "67000 67100 67200", "Grand Est"),
        ("Montpellier", "34000 34070 34080", "Occitanie"),
        ("Bordeaux", "33000 33100 33200 33300", "Nouvelle-Aquitaine"),
        ("Lille", "59000 59800", "Hauts-de-France"),
        ("Rennes", "35000 35200 35700", "Bretagne"),
        ("Reims", "51100", "Grand Est"),
        ("Saint-Étienne", "42000 42100", "Auvergne-Rhône-Alpes"),
        ("Le Havre", "76600 76610", "Normandie"),
        ("Grenoble", "38000 38100", "Auvergne-Rhône-Alpes"),
        ("Dijon", "21000", "Bourgogne-Franche-Comté"),
        ("Angers", "49000 49100", "Pays de la Loire"),
        ("Nîmes", "30000 30900", "Occitanie"),
        ("Aix-en-Provence", "13090 13100", "Provence-Alpes-Côte d'Azur"),
        ("Clermont-Ferrand", "63000 63100", "Auvergne-Rhône-Alpes"),
        ("Tours", "37000 37100", "Centre-Val de Loire"),
        ("Limoges", "87000 87100", "Nouvelle-Aquitaine"),
        ("Amiens", "80000 80090", "Hauts-de-France"),
        ("Metz", "57000 57050", "Grand Est"),
        ("Besançon", "25000", "Bourgogne-Franche-Comté"),
        ("Orléans", "45000 45100", "Centre-Val de Loire"),
        ("Rouen", "76000 76100", "Normandie"),
        ("Caen", "14000", "Normandie"),
        ("Boulogne-Billancourt", "92100", "Île-de-France"),
        ("Versailles", "78000", "Île-de-France"),
        ("Montreuil", "93100", "Île-de-France"),
        ("Vincennes", "94300", "Île-de-France"),
        ("Annecy", "74000", "Auvergne-Rhône-Alpes"),
        ("La Rochelle", "17000", "Nouvelle-Aquitaine"),
        ("Brest", "29200", "Bretagne"),
    )
)
FR_PLACE_WEIGHTS: tuple[int, ...] = (30, 12, 8, 6, 4, 4, 4, 4, 6, 5, 4) + (2,) * (len(FR_PLACES) - 11)

UK_PLACES: tuple[Place, ...] = tuple(
    Place(city, tuple(codes.split(",")), region, "GB", "United Kingdom")
    for city, codes, region in (
        ("London", "SW1A 1AA,N1 9GU,E2 7DG,SE1 9SG,W2 1JB,NW3 2QG", "England"),
        ("Manchester", "M1 1AE,M4 5JD,M20 2RN", "England"),
        ("Bristol", "BS1 4DJ,BS8 1TH", "England"),
        ("Edinburgh", "EH1 1YZ,EH3 9AG", "Scotland"),
        ("Brighton", "BN1 1AE,BN2 9QA", "England"),
    )
)

FR_STREET_TYPES: tuple[tuple[str, int], ...] = (
    ("rue", 50),
    ("avenue", 18),
    ("boulevard", 9),
    ("place", 5),
    ("chemin", 4),
    ("allée", 4),
    ("impasse", 4),
    ("quai", 3),
    ("route", 3),
)
UK_STREET_TYPES: tuple[str, ...] = ("Road", "Street", "Lane", "Avenue", "Gardens", "Close")

FR_DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 35),
    ("orange.fr", 14),
    ("hotmail.fr", 9),
    ("free.fr", 8),
    ("yahoo.fr", 7),
    ("laposte.net", 5),
    ("sfr.fr", 5),
    ("wanadoo.fr", 4),
    ("outlook.fr", 5),
    ("icloud.com", 5),
    ("live.fr", 3),
)
EN_DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 40),
    ("outlook.com", 15),
    ("yahoo.co.uk", 12),
    ("hotmail.co.uk", 12),
    ("btinternet.com", 8),
    ("icloud.com", 8),
)

FR_COMPOUND_GIVEN: dict[str, tuple[str, ...]] = {
    "M": (
        "Jean-Pierre",
        "Jean-Marc",
        "Jean-Baptiste",
        "Pierre-Yves",
        "Jean-Luc",
        "Jean-François",
        "Paul-Henri",
        "Jean-Michel",
    ),
    "F": (
        "Marie-Claire",
        "Anne-Sophie",
        "Marie-Hélène",
        "Anne-Laure",
        "Marie-Christine",
        "Marie-Pierre",
        "Anne-Marie",
        "Marie-Laure",
    ),
}

NICKNAMES: dict[str, tuple[str, ...]] = {
    "Alexandre": ("Alex",),
    "Christophe": ("Chris",),
    "Nicolas": ("Nico",),
    "Frédéric": ("Fred",),
    "Stéphanie": ("Steph",),
    "Catherine": ("Cathy",),
    "Jean-Baptiste": ("JB",),
    "Maximilien": ("Max",),
    "Maxime": ("Max",),
    "Benjamin": ("Ben",),
    "Thomas": ("Tom",),
    "Sébastien": ("Seb",),
    "Emmanuelle": ("Manue",),
    "Dominique": ("Dom",),
    "Jean-Christophe": ("JC",),
    "Valentin": ("Val",),
    "Élisabeth": ("Babeth",),
    "Guillaume": ("Guillaume",),
    "Françoise": ("Fanfan",),
    "Mathieu": ("Matt",),
    "William": ("Bill", "Will"),
    "Robert": ("Bob", "Rob"),
    "Elizabeth": ("Liz", "Beth"),
    "Margaret": ("Maggie", "Meg"),
    "James": ("Jim", "Jamie"),
    "Richard": ("Rick",),
    "Michael": ("Mike",),
    "Katherine": ("Kate", "Katie"),
    "Jennifer": ("Jen",),
    "Christopher": ("Chris",),
    "Daniel": ("Dan",),
    "Samuel": ("Sam",),
    "Rebecca": ("Becky",),
    "Anthony": ("Tony",),
    "Joseph": ("Joe",),
    "Edward": ("Ted", "Ed"),
    "Andrew": ("Andy",),
    "Matthew": ("Matt",),
    "Jonathan": ("Jon",),
    "Victoria": ("Vicky",),
    "Alexander": ("Alex",),
    "Charlotte": ("Lottie",),
    "Thomas-en": ("Tom",),
}


def ascii_fold(text: str) -> str:
    """The text without accents (é -> e, ç -> c)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def stable_rng(*parts: object) -> random.Random:
    """A random generator seeded from labelled parts, identical across runs and platforms."""
    return WorldRandom(":".join(str(p) for p in parts))


class Weighted(Generic[T]):
    """Options with weights, set up once; `draw` gives what `rng.choices(options, weights)[0]` gives, faster."""

    __slots__ = ("cumulative", "last", "options", "total")

    def __init__(self, options: Sequence[T], weights: Sequence[float]) -> None:
        if len(options) != len(weights) or not options:
            raise ValueError("one weight per option, and at least one option")
        self.options = tuple(options)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1] + 0.0
        self.last = len(self.options) - 1

    def draw(self, rng: random.Random) -> T:
        """One option drawn by weight (the same draw as random.choices)."""
        return self.options[bisect(self.cumulative, rng.random() * self.total, 0, self.last)]


_WEIGHTED: dict[tuple[tuple[str, int], ...], Weighted[str]] = {}


def weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    """One option drawn by weight."""
    table = _WEIGHTED.get(options)
    if table is None:
        table = _WEIGHTED[options] = Weighted([o for o, _ in options], [w for _, w in options])
    return table.draw(rng)


CONSENTS: Weighted[str] = Weighted(("subscribed", "unsubscribed", "none"), (50, 15, 35))
FR_PLACE_DRAW: Weighted[Place] = Weighted(FR_PLACES, FR_PLACE_WEIGHTS)


class Pools:
    """Name, street and company pools drawn once with Faker; persons sample from them."""

    def __init__(self, spec: WorldSpec) -> None:
        rng = stable_rng(spec.seed, "pools")
        fr = Faker(spec.locale)
        fr.seed_instance(spec.seed)
        en = Faker("en_GB")
        en.seed_instance(spec.seed + 1)
        self.given: dict[tuple[str, str], list[str]] = {
            ("fr", "M"): sorted({fr.first_name_male() for _ in range(600)}),
            ("fr", "F"): sorted({fr.first_name_female() for _ in range(600)}),
            ("en", "M"): sorted({en.first_name_male() for _ in range(600)}),
            ("en", "F"): sorted({en.first_name_female() for _ in range(600)}),
        }
        self.family: dict[str, list[str]] = {
            "fr": sorted({fr.last_name() for _ in range(1500)}),
            "en": sorted({en.last_name() for _ in range(1500)}),
        }
        names = self.family["fr"] + self.given[("fr", "M")] + self.given[("fr", "F")]
        self.fr_streets: list[str] = sorted(
            {f"{rng.choice(self.given[('fr', rng.choice('MF'))])} {rng.choice(names)}" for _ in range(900)}
            | {
                "de la République",
                "Victor Hugo",
                "Jean Jaurès",
                "de la Gare",
                "du Général de Gaulle",
                "Pasteur",
                "de Paris",
                "Gambetta",
                "de la Liberté",
                "des Lilas",
                "du Moulin",
                "Voltaire",
            }
        )
        self.uk_streets: list[str] = sorted({en.last_name() for _ in range(300)})
        self.companies: list[Company] = []
        seen: set[str] = set()
        for _ in range(400):
            name = fr.company()
            domain = _company_domain(name)
            if domain not in seen:
                seen.add(domain)
                self.companies.append(Company(name, domain))


def _company_domain(name: str) -> str:
    stem = ascii_fold(name.split(" ")[0].split(",")[0]).lower()
    stem = "".join(ch for ch in stem if ch.isalnum()) or "entreprise"
    return f"{stem}.fr"


class UniqueBitmap:
    """A fixed-size bitmap of hashed values: bounded memory, deterministic, rare false positives."""

    def __init__(self, bits: int = 1 << 27) -> None:
        self.bits = bits
        self.data = bytearray(bits // 8)

    def add_if_new(self, value: str) -> bool:
        """Mark the value; False when it (or a hash twin) was already marked."""
        slot = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big") % self.bits
        byte, bit = divmod(slot, 8)
        if self.data[byte] >> bit & 1:
            return False
        self.data[byte] |= 1 << bit
        return True


def person_id(index: int) -> str:
    """The ground-truth id of the person at a position."""
    return f"P{index:07d}"


class PersonFactory:
    """Makes persons chunk by chunk from the pools, keeping emails unique across the world."""

    def __init__(self, spec: WorldSpec, pools: Pools) -> None:
        self.spec = spec
        self.pools = pools
        self.emails = UniqueBitmap()
        self.phone_offset = stable_rng(spec.seed, "phones").randrange(10**8)

    def chunks(self) -> Iterator[list[Person]]:
        """Persons in chunks of spec.chunk_size, in a fixed order."""
        for start in range(0, self.spec.customers, self.spec.chunk_size):
            stop = min(start + self.spec.chunk_size, self.spec.customers)
            yield self.make_chunk(start, stop)

    def make_chunk(self, start: int, stop: int) -> list[Person]:
        """Persons start..stop-1, with households, namesakes and shared company emails among them."""
        rng = stable_rng(self.spec.seed, "persons", start)
        companies = rng.sample(self.pools.companies, k=min(len(self.pools.companies), max(3, (stop - start) // 40)))
        people: list[Person] = []
        for index in range(start, stop):
            person = self._person(index, rng)
            previous = people[-1] if people else None
            roll = rng.random()
            if previous and roll < 0.03 and not previous.household_of and not previous.company:
                self._join_household(person, previous, rng)
            elif people and roll < 0.05:
                twin = rng.choice(people)
                person.given_name, person.family_name, person.gender = twin.given_name, twin.family_name, twin.gender
                person.language = twin.language
                person.email = self._email(person, rng)
                person.namesake_of = twin.person_id
            elif roll < 0.13 and person.address.country_code == "FR":
                person.company = rng.choice(companies)
                if rng.random() < 0.3:
                    person.email = f"contact@{person.company.domain}"
                    person.email_shared = True
                else:
                    person.email = self._email(person, rng, domain=person.company.domain)
            self._choose_systems(person, rng)
            people.append(person)
        return people

    def _person(self, index: int, rng: random.Random) -> Person:
        language = "en" if rng.random() < 0.08 else "fr"
        gender = rng.choice("MF")
        given = rng.choice(self.pools.given[(language, gender)])
        if language == "fr" and rng.random() < 0.07:
            given = rng.choice(FR_COMPOUND_GIVEN[gender])
        family = rng.choice(self.pools.family[language])
        now = self.spec.now
        age_days = int(365.25 * rng.triangular(18, 88, 38))
        birth = (now - timedelta(days=age_days)).date()
        first_seen = now - timedelta(seconds=rng.randrange(20 * 86400, self.spec.history_days * 86400))
        address = self._address(language, rng)
        person = Person(
            person_id=person_id(index),
            index=index,
            language=language,
            gender=gender,
            given_name=given,
            family_name=family,
            birth_date=birth,
            email="",
            phone=self._phone(index, address.country_code),
            address=address,
            first_seen=first_seen,
            consent=CONSENTS.draw(rng),
            loyalty_id=f"FID{(index * 7919 + 100003) % 10**8:08d}" if rng.random() < 0.45 else None,
        )
        if rng.random() < 0.12:
            person.old_address = self._address(language, rng, near=address)
        person.email = self._email(person, rng)
        return person

    def _address(self, language: str, rng: random.Random, near: Address | None = None) -> Address:
        if (near and near.country_code == "GB") or (not near and language == "en" and rng.random() < 0.5):
            place = rng.choice(UK_PLACES)
            return Address(
                str(rng.randint(1, 220)),
                rng.choice(UK_STREET_TYPES),
                rng.choice(self.pools.uk_streets),
                rng.choice(place.postcodes),
                place.city,
                place.region,
                place.country_code,
                place.country,
            )
        place = FR_PLACE_DRAW.draw(rng)
        number = str(rng.randint(1, 180))
        if rng.random() < 0.06:
            number += rng.choice((" bis", " ter"))
        return Address(
            number,
            weighted(rng, FR_STREET_TYPES),
            rng.choice(self.pools.fr_streets),
            rng.choice(place.postcodes),
            place.city,
            place.region,
            place.country_code,
            place.country,
        )

    def _phone(self, index: int, country_code: str) -> str:
        digits = (index * 48271 + self.phone_offset) % 10**8
        if country_code == "GB":
            return f"+447{digits % 10**8 + 10**8 * (index % 9 + 1):09d}"
        return f"+33{6 + index % 2}{digits:08d}"

    def _email(self, person: Person, rng: random.Random, domain: str | None = None) -> str:
        given = ascii_fold(person.given_name).lower().replace(" ", "")
        family = ascii_fold(person.family_name).lower().replace(" ", "").replace("'", "")
        if domain is None:
            domain = weighted(rng, EN_DOMAINS if person.language == "en" else FR_DOMAINS)
        year = f"{person.birth_date.year % 100:02d}"
        forms = (
            f"{given}.{family}",
            f"{given}{family}",
            f"{given[0]}{family}",
            f"{given}.{family}{year}",
            f"{family}.{given}",
            f"{given}_{family}",
            f"{given[0]}.{family}{rng.randint(1, 99)}",
        )
        local = forms[rng.randrange(4 if domain.endswith(".fr") and "." in domain[:-3] else len(forms))]
        for attempt in range(50):
            candidate = f"{local}@{domain}" if attempt == 0 else f"{local}{rng.randint(1, 9999)}@{domain}"
            if self.emails.add_if_new(candidate):
                return candidate
        raise RuntimeError("could not find a free email address")  # pragma: no cover

    def _join_household(self, person: Person, partner: Person, rng: random.Random) -> None:
        """Make the person the partner's spouse: same surname, address and email, other birth date."""
        person.gender = "F" if partner.gender == "M" else "M"
        person.language = partner.language
        person.given_name = rng.choice(self.pools.given[(partner.language, person.gender)])
        while person.given_name == partner.given_name:
            person.given_name = rng.choice(self.pools.given[(partner.language, person.gender)])
        person.family_name = partner.family_name
        person.address = partner.address
        person.old_address = None
        person.email = partner.email
        person.email_shared = True
        person.household_of = partner.person_id
        while abs((person.birth_date - partner.birth_date).days) < 30:
            person.birth_date -= timedelta(days=rng.randint(200, 3000))

    @staticmethod
    def _choose_systems(person: Person, rng: random.Random) -> None:
        """Pick the realistic subset of systems that know this person."""
        systems = set()
        b2b = person.company is not None
        if rng.random() < 0.5:
            systems.add("shopify")
        if rng.random() < 0.35:
            systems.add("square")
        if ("shopify" in systems and rng.random() < 0.8) or b2b or rng.random() < 0.1:
            systems.add("odoo")
        if person.consent != "none" and rng.random() < 0.75:
            systems.add("brevo")
        if rng.random() < 0.4:
            systems.add("hubspot")
        if rng.random() < (0.9 if b2b else 0.3):
            systems.add("salesforce")
        if rng.random() < 0.08:
            systems.add("mailbox")
        if person.email_shared:
            systems -= {"hubspot", "brevo"}
            if person.company:
                systems.discard("shopify")
        if not systems:
            systems.add("square" if rng.random() < 0.5 else "shopify")
        person.systems = systems
