"""Streams of the Odoo connector: one Odoo model each, read incrementally on write_date."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from canalis.sdk import Stream

WRITE_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"

# A many2one value as read() returns it: [id, display name] (None once Odoo's `false` is decoded).
Many2One = Annotated[list[Any], Field(min_length=2, max_length=2)]


class OdooRecord(BaseModel):
    """What every record read from Odoo has: an integer id and a write_date."""

    model_config = ConfigDict(extra="allow")

    id: int
    write_date: str = Field(pattern=WRITE_DATE_PATTERN)


class PartnerRecord(OdooRecord):
    """A res.partner as the partners stream reads it."""

    name: str | None = None
    email: str | None = None
    parent_id: Many2One | None = None
    country_id: Many2One | None = None
    is_company: bool = False


class ProductRecord(OdooRecord):
    """A product.product; one without default_code cannot be matched and is quarantined."""

    name: str
    default_code: str = Field(min_length=1, description="the SKU; products without one cannot be matched")
    active: bool = True


class PricelistItemRecord(OdooRecord):
    """A fixed price of one product variant in one pricelist, with the variant's SKU added."""

    pricelist_id: Many2One
    product_id: Many2One
    fixed_price: float
    currency_id: Many2One | None = None
    product_default_code: str = Field(min_length=1)


class StockQuantRecord(OdooRecord):
    """A stock.quant with the product's SKU added."""

    product_id: Many2One
    location_id: Many2One
    quantity: float
    reserved_quantity: float = 0.0
    product_default_code: str = Field(min_length=1)


class SaleOrderLineRecord(BaseModel):
    """One sale.order.line under its order's `lines`; a malformed one leaves its order incomplete."""

    model_config = ConfigDict(extra="allow")

    id: int
    order_id: Many2One | None = None
    product_id: Many2One | None = None
    name: str | None = None
    product_uom_qty: float
    price_unit: float


class SaleOrderRecord(OdooRecord):
    """A sale.order with its lines."""

    name: str
    partner_id: Many2One
    date_order: str = Field(pattern=WRITE_DATE_PATTERN)
    currency_id: Many2One | None = None
    lines: list[SaleOrderLineRecord]


class LoyaltyRuleRecord(BaseModel):
    """One loyalty.rule (a code) under its program's `rules`."""

    model_config = ConfigDict(extra="allow")

    id: int
    program_id: Many2One | None = None
    code: str | None = None


class LoyaltyRewardRecord(BaseModel):
    """One loyalty.reward (the discount) under its program's `rewards`."""

    model_config = ConfigDict(extra="allow")

    id: int
    program_id: Many2One | None = None
    discount: float = 0.0
    discount_mode: str | None = None


class LoyaltyProgramRecord(OdooRecord):
    """A loyalty.program with its rules and rewards."""

    name: str
    rules: list[LoyaltyRuleRecord]
    rewards: list[LoyaltyRewardRecord]


class BlacklistRecord(OdooRecord):
    """A mail.blacklist entry with the partners holding its email."""

    email: str
    active: bool = True
    partner_ids: list[int]


@dataclass(frozen=True)
class ChildList:
    """Records of another model read with each parent, under `key`: found through the parent's one2many field
    `link` (so a child whose own `parent_field` came back broken is still placed, and validated), else by
    `parent_field` when the database has no such one2many field."""

    key: str
    model: str
    parent_field: str
    link: str


class OdooStream(Stream):
    """A stream read from one Odoo model with search_read, ordered by (write_date, id)."""

    primary_key = "id"
    cursor_field = "write_date"
    record_model: ClassVar[type[BaseModel] | None] = OdooRecord
    model: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    # Records whose product many2one (this field) gets the product's default_code as `product_default_code`.
    product_field: ClassVar[str | None] = None
    # Read archived records too, so that archiving reaches Canalis.
    include_archived: ClassVar[bool] = True
    children: ClassVar[tuple[ChildList, ...]] = ()

    @classmethod
    def declared_fields(cls) -> frozenset[str]:
        """The id and the fields read (those the database lacks are left out), the SKU added, children added."""
        added = ("product_default_code",) if cls.product_field else ()
        return frozenset(("id", *cls.fields, *added, *cls.added_fields()))

    @classmethod
    def added_fields(cls) -> tuple[str, ...]:
        """Fields the connector adds from related models (order lines, rules and rewards, partners)."""
        return ()


class Partners(OdooStream):
    name = "partners"
    model = "res.partner"
    record_model = PartnerRecord
    description = "Customers (res.partner with a customer rank); persons only unless include_companies."
    fields = (
        "name", "firstname", "lastname", "display_name", "is_company", "parent_id", "type", "email", "phone",
        "mobile", "street", "street2", "zip", "city", "state_id", "country_id", "lang", "ref", "customer_rank",
        "active", "is_blacklisted", "create_date", "write_date",
    )  # fmt: skip


class Products(OdooStream):
    name = "products"
    model = "product.product"
    record_model = ProductRecord
    description = "Product variants (product.product); default_code is the SKU."
    fields = (
        "name", "display_name", "default_code", "barcode", "list_price", "categ_id", "product_tmpl_id", "type",
        "sale_ok", "active", "uom_id", "create_date", "write_date",
    )  # fmt: skip


class PricelistItems(OdooStream):
    name = "pricelist_items"
    model = "product.pricelist.item"
    record_model = PricelistItemRecord
    product_field = "product_id"
    description = "Fixed prices per product variant and pricelist (product.pricelist.item)."
    fields = (
        "pricelist_id", "product_id", "applied_on", "compute_price", "fixed_price", "min_quantity", "date_start",
        "date_end", "currency_id", "create_date", "write_date",
    )  # fmt: skip


class StockQuants(OdooStream):
    name = "stock_quants"
    model = "stock.quant"
    record_model = StockQuantRecord
    product_field = "product_id"
    include_archived = False
    description = "On-hand and reserved quantities per product and internal location (stock.quant)."
    fields = (
        "product_id", "location_id", "quantity", "reserved_quantity", "available_quantity", "lot_id", "in_date",
        "create_date", "write_date",
    )  # fmt: skip


class SaleOrders(OdooStream):
    name = "sale_orders"
    model = "sale.order"
    record_model = SaleOrderRecord
    description = "Sales orders (sale.order) with their lines under `lines`."
    fields = (
        "name", "partner_id", "date_order", "state", "client_order_ref", "origin", "pricelist_id", "currency_id",
        "amount_untaxed", "amount_tax", "amount_total", "create_date", "write_date",
    )  # fmt: skip
    line_fields: ClassVar[tuple[str, ...]] = (
        "order_id", "product_id", "name", "product_uom_qty", "price_unit", "discount", "price_subtotal",
        "price_total",
    )  # fmt: skip

    children: ClassVar[tuple[ChildList, ...]] = (ChildList("lines", "sale.order.line", "order_id", "order_line"),)

    @classmethod
    def added_fields(cls) -> tuple[str, ...]:
        """The order's lines, each with its id, the line fields read and the SKU of its product."""
        return tuple(f"lines.{name}" for name in ("id", *cls.line_fields, "product_default_code"))


class LoyaltyPrograms(OdooStream):
    name = "loyalty_programs"
    model = "loyalty.program"
    record_model = LoyaltyProgramRecord
    description = "Promotions (loyalty.program) with their code rules under `rules` and rewards under `rewards`."
    fields = (
        "name", "program_type", "trigger", "applies_on", "active", "date_from", "date_to", "limit_usage",
        "ecommerce_ok", "pos_ok", "currency_id", "create_date", "write_date",
    )  # fmt: skip
    rule_fields: ClassVar[tuple[str, ...]] = ("program_id", "mode", "code", "minimum_qty", "minimum_amount")
    reward_fields: ClassVar[tuple[str, ...]] = (
        "program_id", "reward_type", "discount", "discount_mode", "discount_applicability", "description",
    )  # fmt: skip

    children: ClassVar[tuple[ChildList, ...]] = (
        ChildList("rules", "loyalty.rule", "program_id", "rule_ids"),
        ChildList("rewards", "loyalty.reward", "program_id", "reward_ids"),
    )

    @classmethod
    def added_fields(cls) -> tuple[str, ...]:
        """The program's code rules and rewards, each with its id and the fields read."""
        rules = (f"rules.{name}" for name in ("id", *cls.rule_fields))
        return (*rules, *(f"rewards.{name}" for name in ("id", *cls.reward_fields)))


class Consents(OdooStream):
    name = "consents"
    model = "mail.blacklist"
    record_model = BlacklistRecord
    description = (
        "The email blacklist (mail.blacklist), with the partners holding each email under `partner_ids`; "
        "writable (denied adds or re-activates an entry, granted archives it) when allow_writes is true."
    )
    fields = ("email", "active", "create_date", "write_date")
    writable = True
    batch_size = 1000  # lowered by the write_batch_size setting

    @classmethod
    def added_fields(cls) -> tuple[str, ...]:
        """The ids of the partners holding the email (a list of integers)."""
        return ("partner_ids",)


STREAMS: tuple[type[OdooStream], ...] = (
    Partners,
    Products,
    PricelistItems,
    StockQuants,
    SaleOrders,
    LoyaltyPrograms,
    Consents,
)
