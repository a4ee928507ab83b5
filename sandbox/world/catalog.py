"""Products, prices, stock and promotions mastered in Odoo, and the channel copies' deliberate faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canalis.sandbox.objectstore import TruthInconsistency
from canalis.sandbox.world.people import stable_rng
from canalis.sandbox.world.spec import WorldSpec

CATEGORIES: tuple[tuple[str, str, tuple[str, ...], tuple[int, int]], ...] = (
    (
        "MAI",
        "Maison",
        (
            "Bougie parfumée",
            "Vase en grès",
            "Plaid en laine",
            "Coussin en lin",
            "Tasse émaillée",
            "Carafe en verre",
            "Panier en osier",
            "Lampe de chevet",
            "Torchon en lin",
        ),
        (900, 8900),
    ),
    (
        "BEA",
        "Beauté",
        ("Savon surgras", "Huile de soin", "Crème mains", "Eau de toilette", "Baume à lèvres"),
        (450, 4900),
    ),
    (
        "EPI",
        "Épicerie fine",
        ("Thé vert", "Confiture de figues", "Miel de lavande", "Chocolat noir 70%", "Biscuits sablés", "Huile d'olive"),
        (350, 2400),
    ),
    ("PAP", "Papeterie", ("Carnet A5", "Stylo plume", "Agenda 2026", "Carte postale", "Trousse en coton"), (250, 3900)),
)
VARIANTS: tuple[str, ...] = (
    "Figue",
    "Ambre",
    "Lavande",
    "Bleu nuit",
    "Terracotta",
    "Sauge",
    "Ivoire",
    "Fleur d'oranger",
    "Cèdre",
    "Rose ancienne",
    "Sable",
    "Vert d'eau",
    "Charbon",
    "Miel",
    "Safran",
)
PROMO_THEMES: tuple[tuple[str, str], ...] = (
    ("BIENVENUE", "Bienvenue"),
    ("SOLDES", "Soldes"),
    ("NOEL", "Noël"),
    ("PRINTEMPS", "Printemps"),
    ("FIDELITE", "Fidélité"),
    ("BLACKFRIDAY", "Black Friday"),
    ("RENTREE", "Rentrée"),
    ("ETE", "Été"),
    ("FETEDESMERES", "Fête des mères"),
    ("SAINTVALENTIN", "Saint-Valentin"),
    ("ANNIVERSAIRE", "Anniversaire"),
    ("PARRAINAGE", "Parrainage"),
    ("VIP", "Ventes privées"),
    ("NEWSLETTER", "Newsletter"),
    ("MARAIS", "Marais"),
    ("LYON", "Presqu'île"),
    ("HIVER", "Hiver"),
)


@dataclass(frozen=True, slots=True)
class StockPlace:
    """An Odoo stock location and the channel location that sells from it."""

    key: str
    odoo_id: int
    odoo_name: str
    channel: str
    name: str
    city: str
    street: str
    postcode: str
    phone: str


STOCK_PLACES: tuple[StockPlace, ...] = (
    StockPlace(
        "web",
        8,
        "WH/Stock",
        "shopify",
        "Entrepôt web Saint-Ouen",
        "Saint-Ouen-sur-Seine",
        "12 rue des Entrepôts",
        "93400",
        "+33 1 84 60 12 00",
    ),
    StockPlace(
        "paris",
        20,
        "PAR/Stock",
        "square",
        "Boutique Paris Marais",
        "Paris",
        "38 rue Vieille du Temple",
        "75004",
        "01 42 72 31 00",
    ),
    StockPlace(
        "lyon",
        26,
        "LYO/Stock",
        "square",
        "Boutique Lyon Presqu'île",
        "Lyon",
        "9 rue Mercière",
        "69002",
        "04 78 42 10 00",
    ),
)


@dataclass(slots=True)
class Product:
    """One sellable variant (an SKU) as Odoo masters it."""

    index: int
    sku: str
    name: str
    category: str
    list_price: int
    store_price: int
    cost: int
    barcode: str
    compare_at: int | None
    created_at: datetime
    updated_at: datetime
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class Promotion:
    """A promotion code as Odoo masters it (a loyalty.program with a code rule and a discount reward)."""

    index: int
    code: str
    name: str
    starts_at: datetime
    ends_at: datetime
    percentage: float | None
    amount: int | None
    web: bool
    store: bool
    once_per_customer: bool
    created_at: datetime

    def status(self, now: datetime) -> str:
        """ACTIVE, EXPIRED or SCHEDULED at the given time."""
        if self.ends_at <= now:
            return "EXPIRED"
        return "SCHEDULED" if self.starts_at > now else "ACTIVE"


@dataclass
class CatalogFaults:
    """Channel copies that deliberately disagree with Odoo."""

    prices: dict[tuple[str, str], int] = field(default_factory=dict)
    missing_promos: set[tuple[str, str]] = field(default_factory=set)
    promo_values: dict[tuple[str, str], float | int] = field(default_factory=dict)
    expired_but_active: set[tuple[str, str]] = field(default_factory=set)
    stock: dict[tuple[str, str, str], int] = field(default_factory=dict)


@dataclass
class Catalog:
    """Everything sold, its prices, stock and promotions, plus the faults of the channel copies."""

    products: list[Product]
    promotions: list[Promotion]
    faults: CatalogFaults
    inconsistencies: list[TruthInconsistency]

    def channel_price(self, channel: str, product: Product) -> int:
        """The price in cents a channel shows for a product (Store pricelist for Square, Public elsewhere)."""
        default = product.store_price if channel == "square" else product.list_price
        return self.faults.prices.get((channel, product.sku), default)

    def channel_available(self, channel: str, product: Product, place: str) -> int:
        """The quantity a channel shows as available at a place."""
        quantity, reserved = product.stock[place]
        return self.faults.stock.get((channel, product.sku, place), max(0, quantity - reserved))

    def promo_in(self, channel: str, promo: Promotion) -> bool:
        """Whether a channel holds a copy of the promotion."""
        applies = promo.web if channel == "shopify" else promo.store
        return applies and (channel, promo.code) not in self.faults.missing_promos

    def promo_value(self, channel: str, promo: Promotion) -> float | int:
        """The discount value a channel holds (fraction 0..1 for percentages, cents for amounts)."""
        default = promo.percentage if promo.percentage is not None else promo.amount
        assert default is not None
        return self.faults.promo_values.get((channel, promo.code), default)


def money(cents: int) -> str:
    """Cents as a decimal string, e.g. 1990 -> "19.90"."""
    return f"{cents // 100}.{cents % 100:02d}"


def _price(rng: random.Random, low: int, high: int) -> int:
    euros = rng.randint(low, high) // 100
    return euros * 100 + rng.choice((0, 50, 90, 90, 90, 95))


def build_catalog(spec: WorldSpec) -> Catalog:
    """The catalogue, stock and promotions of the world, with channel faults when asked for."""
    rng = stable_rng(spec.seed, "catalog")
    now = spec.now
    products: list[Product] = []
    used: set[str] = set()
    for index in range(spec.products):
        prefix, category, bases, (low, high) = CATEGORIES[index % len(CATEGORIES)]
        name = f"{rng.choice(bases)} {rng.choice(VARIANTS)}"
        while name in used:
            name = f"{rng.choice(bases)} {rng.choice(VARIANTS)}"
        used.add(name)
        price = _price(rng, low, high)
        store_price = price if rng.random() < 0.85 else price + rng.choice((-100, -50, 100, 200))
        created = now - timedelta(days=rng.randint(200, spec.history_days + 300), seconds=rng.randrange(86400))
        updated = created + (now - created) * rng.random()
        product = Product(
            index=index,
            sku=f"{prefix}-{1000 + index:04d}",
            name=name,
            category=category,
            list_price=price,
            store_price=store_price,
            cost=price * rng.randint(30, 55) // 100,
            barcode=f"376{rng.randrange(10**9):09d}{index % 10}",
            compare_at=price + rng.choice((500, 1000)) if rng.random() < 0.1 else None,
            created_at=created,
            updated_at=updated,
        )
        for place in STOCK_PLACES:
            quantity = rng.randint(0, 180 if place.key == "web" else 35)
            reserved = min(quantity, rng.choice((0, 0, 0, 1, 2, 3, 5)))
            product.stock[place.key] = (quantity, reserved)
        products.append(product)
    promotions = _promotions(rng, now)
    faults = CatalogFaults()
    inconsistencies: list[TruthInconsistency] = []
    if spec.inject_inconsistencies:
        inconsistencies = _inject(rng, spec, products, promotions, faults)
    return Catalog(products, promotions, faults, inconsistencies)


def _promotions(rng: random.Random, now: datetime) -> list[Promotion]:
    promotions: list[Promotion] = []
    plan = ["ACTIVE"] * 8 + ["EXPIRED"] * 6 + ["SCHEDULED"] * 3
    for index, (state, (stem, theme)) in enumerate(zip(plan, PROMO_THEMES, strict=True)):
        if state == "ACTIVE":
            start = now - timedelta(days=rng.randint(3, 60))
            end = now + timedelta(days=rng.randint(5, 90))
        elif state == "EXPIRED":
            start = now - timedelta(days=rng.randint(90, 400))
            end = start + timedelta(days=rng.randint(7, 45))
        else:
            start = now + timedelta(days=rng.randint(5, 40))
            end = start + timedelta(days=rng.randint(7, 30))
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        end = end.replace(hour=23, minute=59, second=59, microsecond=0)
        fixed = rng.random() < 0.3
        value = rng.choice((5, 10, 15, 20, 25, 30))
        channels = rng.choice(("both", "both", "web", "store"))
        promotions.append(
            Promotion(
                index=index,
                code=f"{stem}{value}",
                name=f"{theme} -{value}{' €' if fixed else ' %'}",
                starts_at=start,
                ends_at=end,
                percentage=None if fixed else value / 100,
                amount=value * 100 if fixed else None,
                web=channels in ("both", "web"),
                store=channels in ("both", "store"),
                once_per_customer=rng.random() < 0.4,
                created_at=min(start - timedelta(days=rng.randint(1, 20)), now - timedelta(hours=1)),  # not ahead
            )
        )
    return promotions


def _window(promo: Promotion) -> dict[str, str]:
    """When an injected promotion fault can be seen: while the promotion runs."""
    return {"ends_at": promo.ends_at.isoformat()}


def _inject(
    rng: random.Random,
    spec: WorldSpec,
    products: list[Product],
    promotions: list[Promotion],
    faults: CatalogFaults,
) -> list[TruthInconsistency]:
    """Make channel copies disagree with Odoo on purpose and record each disagreement."""
    found: list[TruthInconsistency] = []

    def record(kind: str, entity: str, channels: list[str], details: dict[str, object]) -> None:
        found.append(TruthInconsistency("", kind, entity, channels, details))

    count = spec.faults_per_kind
    picked = rng.sample(products, k=min(len(products), 2 * count))
    for n, product in enumerate(picked[:count]):
        channel = ("shopify", "square", "salesforce", "hubspot")[n % 4]
        pricelist = "Store EUR" if channel == "square" else "Public EUR"
        odoo_price = product.store_price if channel == "square" else product.list_price
        wrong = odoo_price + rng.choice((-300, -200, 100, 200, 500))
        faults.prices[(channel, product.sku)] = wrong
        record(
            "price_mismatch",
            product.sku,
            ["odoo", channel],
            {"pricelist": pricelist, "odoo_price": money(odoo_price), "channel_price": money(wrong)},
        )
    for n, product in enumerate(picked[count:]):
        channel, place = ("shopify", "web") if n % 2 == 0 else ("square", ("paris", "lyon")[n // 2 % 2])
        quantity, reserved = product.stock[place]
        shown = quantity - reserved + rng.randint(3, 12)
        faults.stock[(channel, product.sku, place)] = shown
        record(
            "stock_oversell_risk",
            product.sku,
            ["odoo", channel],
            {"location": place, "odoo_on_hand": quantity, "odoo_reserved": reserved, "channel_available": shown},
        )

    active = [p for p in promotions if p.status(spec.now) == "ACTIVE"]
    expired = [p for p in promotions if p.status(spec.now) == "EXPIRED"]
    for n, promo in enumerate(active[:count]):
        channel = "shopify" if promo.web and (n % 2 == 0 or not promo.store) else "square"
        faults.missing_promos.add((channel, promo.code))
        record("promo_missing", promo.code, ["odoo", channel], {"odoo_program": promo.name, **_window(promo)})
    for n, promo in enumerate(active[count : 2 * count]):
        channel = "shopify" if promo.web and (n % 2 == 0 or not promo.store) else "square"
        if promo.percentage is not None:
            wrong: float | int = round(promo.percentage - 0.05, 2) if promo.percentage > 0.05 else 0.1
            shown, expected = f"{round(wrong * 100)} %", f"{round(promo.percentage * 100)} %"
        else:
            assert promo.amount is not None
            wrong = promo.amount + 500
            shown, expected = money(wrong), money(promo.amount)
        faults.promo_values[(channel, promo.code)] = wrong
        record(
            "promo_value_mismatch",
            promo.code,
            ["odoo", channel],
            {"odoo_value": expected, "channel_value": shown, **_window(promo)},
        )
    for n, promo in enumerate(expired[:count]):
        channel = "shopify" if promo.web and (n % 2 == 0 or not promo.store) else "square"
        faults.expired_but_active.add((channel, promo.code))
        record(
            "promo_expired_but_active",
            promo.code,
            ["odoo", channel],
            {"odoo_ends_at": promo.ends_at.strftime("%Y-%m-%d %H:%M:%S")},
        )
    return found
