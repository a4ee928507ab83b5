"""The models the emulated Odoo database has installed: fields (type, label, relation) and default order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

READONLY_FIELDS = frozenset({"id", "create_date", "write_date", "display_name", "create_uid", "write_uid"})


@dataclass(frozen=True)
class FieldDef:
    """One field of a model, as `fields_get` describes it."""

    name: str
    type: str
    string: str
    relation: str | None = None
    readonly: bool = False
    required: bool = False
    store: bool = True
    selection: tuple[tuple[str, str], ...] | None = None

    def describe(self, attributes: list[str] | None) -> dict[str, Any]:
        """The field's `fields_get` entry, restricted to the attributes asked for."""
        entry: dict[str, Any] = {
            "type": self.type,
            "string": self.string,
            "help": "",
            "readonly": self.readonly,
            "required": self.required,
            "store": self.store,
            "searchable": True,
            "sortable": self.store,
        }
        if self.relation:
            entry["relation"] = self.relation
        if self.selection is not None:
            entry["selection"] = [list(option) for option in self.selection]
        if attributes:
            entry = {key: value for key, value in entry.items() if key in attributes}
        return entry

    def empty(self) -> Any:
        """The value `read` returns when the record holds nothing for this field."""
        if self.type in ("one2many", "many2many"):
            return []
        if self.type == "integer":
            return 0
        if self.type in ("float", "monetary"):
            return 0.0
        return False


@dataclass(frozen=True)
class ModelDef:
    """One model: its fields by name and its default order."""

    name: str
    description: str
    fields: dict[str, FieldDef]
    order: str = "id"
    rec_name: str = "name"
    computed: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_active(self) -> bool:
        """Whether archived records are hidden unless `active_test` is False."""
        return "active" in self.fields


def _model(
    name: str,
    description: str,
    spec: str,
    *,
    order: str = "id",
    rec_name: str = "name",
    computed: tuple[str, ...] = (),
) -> ModelDef:
    """Build a model from lines of `field type label [relation]` plus the fields every model has."""
    fields: dict[str, FieldDef] = {
        "id": FieldDef("id", "integer", "ID", readonly=True),
        "display_name": FieldDef("display_name", "char", "Display Name", readonly=True, store=False),
        "create_date": FieldDef("create_date", "datetime", "Created on", readonly=True),
        "write_date": FieldDef("write_date", "datetime", "Last Updated on", readonly=True),
    }
    for line in filter(None, (raw.strip() for raw in spec.strip().splitlines())):
        parts = line.split("|")
        field_name, field_type, label = parts[0].strip(), parts[1].strip(), parts[2].strip()
        relation = parts[3].strip() if len(parts) > 3 else None
        fields[field_name] = FieldDef(
            field_name,
            field_type,
            label,
            relation=relation,
            readonly=field_name in computed,
            store=field_name not in computed,
            required=field_name == rec_name and field_type == "char",
        )
    return ModelDef(name, description, fields, order=order, rec_name=rec_name, computed=frozenset(computed))


MODELS: dict[str, ModelDef] = {
    model.name: model
    for model in (
        _model(
            "res.partner",
            "Contact",
            """
            name|char|Name
            firstname|char|First name
            lastname|char|Last name
            is_company|boolean|Is a Company
            parent_id|many2one|Related Company|res.partner
            type|selection|Address Type
            email|char|Email
            phone|char|Phone
            mobile|char|Mobile
            street|char|Street
            street2|char|Street2
            zip|char|Zip
            city|char|City
            state_id|many2one|State|res.country.state
            country_id|many2one|Country|res.country
            lang|selection|Language
            ref|char|Reference
            website|char|Website Link
            customer_rank|integer|Customer Rank
            active|boolean|Active
            company_id|many2one|Company|res.company
            is_blacklisted|boolean|Blacklist
            """,
            order="name, id",
            computed=("is_blacklisted",),
        ),
        _model(
            "product.product",
            "Product Variant",
            """
            name|char|Name
            default_code|char|Internal Reference
            barcode|char|Barcode
            list_price|float|Sales Price
            standard_price|float|Cost
            categ_id|many2one|Product Category|product.category
            product_tmpl_id|many2one|Product Template|product.template
            type|selection|Product Type
            sale_ok|boolean|Can be Sold
            active|boolean|Active
            uom_id|many2one|Unit of Measure|uom.uom
            company_id|many2one|Company|res.company
            """,
            order="default_code, name, id",
        ),
        _model(
            "product.pricelist",
            "Pricelist",
            """
            name|char|Pricelist Name
            currency_id|many2one|Currency|res.currency
            active|boolean|Active
            company_id|many2one|Company|res.company
            x_channel|char|Channel
            """,
            order="name, id",
        ),
        _model(
            "product.pricelist.item",
            "Pricelist Rule",
            """
            pricelist_id|many2one|Pricelist|product.pricelist
            product_id|many2one|Product Variant|product.product
            product_tmpl_id|many2one|Product|product.template
            applied_on|selection|Apply On
            compute_price|selection|Price Type
            fixed_price|float|Fixed Price
            min_quantity|float|Min. Quantity
            date_start|datetime|Start Date
            date_end|datetime|End Date
            currency_id|many2one|Currency|res.currency
            """,
            order="applied_on, min_quantity desc, id desc",
            rec_name="pricelist_id",
        ),
        _model(
            "stock.location",
            "Inventory Locations",
            """
            name|char|Location Name
            complete_name|char|Full Location Name
            usage|selection|Location Type
            active|boolean|Active
            company_id|many2one|Company|res.company
            """,
            order="complete_name, id",
            rec_name="complete_name",
        ),
        _model(
            "stock.quant",
            "Quants",
            """
            product_id|many2one|Product|product.product
            location_id|many2one|Location|stock.location
            quantity|float|Quantity
            reserved_quantity|float|Reserved Quantity
            available_quantity|float|Available Quantity
            lot_id|many2one|Lot/Serial Number|stock.lot
            company_id|many2one|Company|res.company
            in_date|datetime|Incoming Date
            """,
            rec_name="product_id",
        ),
        _model(
            "sale.order",
            "Sales Order",
            """
            name|char|Order Reference
            partner_id|many2one|Customer|res.partner
            date_order|datetime|Order Date
            state|selection|Status
            client_order_ref|char|Customer Reference
            origin|char|Source Document
            pricelist_id|many2one|Pricelist|product.pricelist
            currency_id|many2one|Currency|res.currency
            amount_untaxed|monetary|Untaxed Amount
            amount_tax|monetary|Taxes
            amount_total|monetary|Total
            order_line|one2many|Order Lines|sale.order.line
            company_id|many2one|Company|res.company
            user_id|many2one|Salesperson|res.users
            """,
            order="date_order desc, id desc",
        ),
        _model(
            "sale.order.line",
            "Sales Order Line",
            """
            order_id|many2one|Order Reference|sale.order
            product_id|many2one|Product|product.product
            name|text|Description
            product_uom_qty|float|Quantity
            price_unit|float|Unit Price
            discount|float|Discount (%)
            price_subtotal|monetary|Subtotal
            price_total|monetary|Total
            """,
            order="order_id, id",
        ),
        _model(
            "loyalty.program",
            "Loyalty Program",
            """
            name|char|Program Name
            program_type|selection|Program Type
            trigger|selection|Program Trigger
            applies_on|selection|Use points on
            active|boolean|Active
            date_from|date|Start Date
            date_to|date|Validity
            limit_usage|boolean|Limit Usage
            max_usage|integer|Max Usage
            ecommerce_ok|boolean|Available on Website
            pos_ok|boolean|Point of Sale
            rule_ids|one2many|Conditional rules|loyalty.rule
            reward_ids|one2many|Rewards|loyalty.reward
            currency_id|many2one|Currency|res.currency
            company_id|many2one|Company|res.company
            """,
            order="id",
        ),
        _model(
            "loyalty.rule",
            "Loyalty Rule",
            """
            program_id|many2one|Program|loyalty.program
            mode|selection|Application
            code|char|Discount code
            minimum_qty|integer|Minimum Quantity
            minimum_amount|monetary|Minimum Purchase
            """,
            rec_name="code",
        ),
        _model(
            "loyalty.reward",
            "Loyalty Reward",
            """
            program_id|many2one|Program|loyalty.program
            reward_type|selection|Reward Type
            discount|float|Discount
            discount_mode|selection|Discount Mode
            discount_applicability|selection|Discount Applicability
            description|char|Description
            """,
            rec_name="description",
        ),
        _model(
            "mail.blacklist",
            "Mail Blacklist",
            """
            email|char|Email Address
            active|boolean|Active
            """,
            order="id desc",
            rec_name="email",
        ),
    )
}


def infer_field(name: str, value: Any) -> FieldDef:
    """A field definition guessed from a stored value, for fields the world holds but the schema omits."""
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "float"
    elif isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
        kind = "many2one"
    elif isinstance(value, list):
        kind = "many2many"
    else:
        kind = "char"
    return FieldDef(name, kind, name.replace("_", " ").title())
