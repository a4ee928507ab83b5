"""The Odoo connector: partners, products, prices, stock, sales orders and promotions from Odoo's ORM."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import requests

from canalis.connectors.odoo.client import OdooCallError, OdooClient
from canalis.connectors.odoo.consents import write_consents
from canalis.connectors.odoo.paging import pages_by_write_date
from canalis.connectors.odoo.settings import OdooSettings
from canalis.connectors.odoo.streams import (
    STREAMS,
    ChildList,
    Consents,
    LoyaltyPrograms,
    OdooStream,
    Partners,
    PricelistItems,
    SaleOrders,
    StockQuants,
)
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorError,
    Page,
    Stream,
    StreamState,
    WriteResult,
)
from canalis.sdk.base import ErasureMode

PRODUCT_MODEL = "product.product"
CHILDREN_PARENTS_PER_CALL = 200  # order lines, rules and rewards are read for this many parents at a time
# loyalty.program types that are promotions (loyalty cards, gift cards and e-wallets are not)
PROMOTION_PROGRAM_TYPES = ("promo_code", "promotion", "buy_x_get_y", "coupons", "next_order_coupons")


PARTNER_MODEL = "res.partner"
ERASED_NAME = "Erased"
ERASED_PARTNER_FIELDS = (
    "firstname", "lastname", "display_name", "email", "phone", "mobile", "street", "street2", "zip", "city",
    "state_id", "ref", "vat", "website", "comment", "function", "title",
)  # fmt: skip
"""Partner fields blanked by an erasure (those the database has)."""


class OdooConnector(Connector):
    """Reads Odoo (the system of record for prices, stock and promotions); writes only consents, when allowed."""

    name = "odoo"
    kind = "erp"
    title = "Odoo"
    description = (
        "Odoo ERP through its external API: JSON-2 on Odoo 19+, XML-RPC or JSON-RPC before. Customers, "
        "products, pricelist prices, stock quants, sales orders and loyalty promotions, read incrementally."
    )
    settings_model = OdooSettings
    streams = STREAMS
    # partners are anonymised and archived, not unlinked: their sales orders and invoices must stay whole
    erasure: ClassVar[dict[str, ErasureMode]] = {"partners": "anonymise"}

    settings: OdooSettings

    def __init__(
        self,
        settings: OdooSettings,
        *,
        connection: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, connection=connection)
        self._session = session
        self._sleep = sleep
        self._client: OdooClient | None = None

    @property
    def client(self) -> OdooClient:
        """The Odoo client, made on first use (building the connector does no network I/O)."""
        if self._client is None:
            self._client = OdooClient(self.settings, session=self._session, sleep=self._sleep)
        return self._client

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()

    def declared_streams(self) -> tuple[type[Stream], ...]:
        lookback = timedelta(seconds=self.settings.lookback_seconds)
        adapted: list[type[Stream]] = []
        for stream in STREAMS:
            attributes: dict[str, Any] = {"lookback": lookback}
            if stream.writable:
                attributes["writable"] = self.settings.allow_writes
            adapted.append(type(stream.__name__, (stream,), attributes))
        return tuple(adapted)

    # -- settings and check ------------------------------------------------------------------------

    def _require_settings(self) -> None:
        """Fail with the setting named when the credentials cannot work for the protocol in use."""
        settings = self.settings
        if settings.secret() is None:
            raise self._missing("api_key", "an API key (CANALIS_ODOO_API_KEY) or a password (CANALIS_ODOO_PASSWORD)")
        if settings.protocol == "json2" and settings.api_key is None:
            raise self._missing("api_key", "the JSON-2 API needs an API key (CANALIS_ODOO_API_KEY)")
        if settings.protocol in ("xmlrpc", "jsonrpc") or (settings.protocol == "auto" and settings.api_key is None):
            self._require_rpc_settings()

    def _require_rpc_settings(self) -> None:
        if not self.settings.database:
            raise self._missing("database", "XML-RPC/JSON-RPC calls name the database (CANALIS_ODOO_DATABASE)")
        if not self.settings.login:
            raise self._missing("login", "XML-RPC/JSON-RPC sign-in needs the login (CANALIS_ODOO_LOGIN)")

    def _missing(self, setting: str, why: str) -> ConfigError:
        return ConfigError(f"connection '{self.connection}': setting '{setting}' is required: {why}", setting=setting)

    def _ready(self) -> OdooClient:
        """The client, with settings checked and the protocol chosen."""
        self._require_settings()
        client = self.client
        if client.wire != "json2":
            self._require_rpc_settings()
            client.uid()
        return client

    def check(self) -> CheckResult:
        try:
            client = self._ready()
            models: dict[str, int] = {}
            unavailable: dict[str, str] = {}
            for stream in STREAMS:
                try:
                    models[stream.model] = len(client.field_types(stream.model))
                except OdooCallError as error:
                    if error.kind != "user_error":  # access errors fail the check; a missing module does not
                        raise
                    unavailable[stream.name] = f"model {stream.model} is not installed"
            locations = self._location_ids() if StockQuants.name not in unavailable else []
        except OdooCallError as error:
            return CheckResult(ok=False, message=f"{self.connection}: {error}", details={"kind": error.kind})
        except ApiError as error:
            return CheckResult(ok=False, message=f"{self.connection}: {error}", details={"status": error.status})
        version = client.server_version().get("server_version")
        message = f"Odoo {version} reached over {client.wire}"
        if unavailable:
            message += "; streams unavailable: " + ", ".join(f"{name} ({why})" for name, why in unavailable.items())
        details = {"server_version": version, "protocol": client.wire, "models": models, "locations": locations}
        return CheckResult(ok=True, message=message, details={**details, "unavailable": unavailable})

    # -- reading -----------------------------------------------------------------------------------

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if not issubclass(stream, OdooStream):
            raise ConnectorError(f"{self.name}: stream '{stream.name}' is not an Odoo stream")
        client = self._ready()
        types = client.field_types(stream.model)
        missing = [name for name in ("id", "write_date") if name not in types]
        if missing:
            raise ConnectorError(f"{self.name}: model {stream.model} has no field '{missing[0]}'")
        fields = [name for name in stream.fields if name in types]
        fields += [child.link for child in stream.children if child.link in types]  # taken off once children are in
        context = {"active_test": False} if stream.include_archived else None
        base = self._base_domain(stream)

        def fetch(domain: list[Any], limit: int, order: str) -> list[dict[str, Any]]:
            return client.search_read(stream.model, domain, fields, limit=limit, order=order, context=context)

        for rows, page_state in pages_by_write_date(fetch, base, self.settings.page_size, state, stream.lookback):
            yield Page(records=self._complete(stream, rows), state=page_state)

    def fetches_by_id(self, stream: str) -> bool:
        """Every Odoo stream is a model read by `search_read`, which takes an id domain."""
        return issubclass(self.stream(stream), OdooStream)

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Records by id within the stream's own domain, completed as a read completes them (lines, codes)."""
        odoo = self.stream(stream)
        if not issubclass(odoo, OdooStream):
            raise ConnectorError(f"{self.name}: stream '{stream}' is not an Odoo stream")
        client = self._ready()
        types = client.field_types(odoo.model)
        fields = [name for name in odoo.fields if name in types]
        context = {"active_test": False} if odoo.include_archived else None
        numbers = sorted({int(value) for value in ids if str(value).isdigit()})
        for chunk in _chunks(numbers, self.settings.page_size):
            domain = [*self._base_domain(odoo), ("id", "in", chunk)]
            rows = client.search_read(odoo.model, domain, fields, order="id asc", context=context)
            yield from self._complete(odoo, rows)

    def _base_domain(self, stream: type[OdooStream]) -> list[Any]:
        if issubclass(stream, Partners):
            domain: list[Any] = []
            if self.settings.customers_only:
                domain.append(("customer_rank", ">", 0))
            if not self.settings.include_companies:
                domain.append(("is_company", "=", False))
            return domain
        if issubclass(stream, StockQuants):
            return [("location_id", "in", self._location_ids())]
        if issubclass(stream, PricelistItems):
            return [
                ("applied_on", "=", "0_product_variant"),
                ("compute_price", "=", "fixed"),
                ("min_quantity", "<=", 1),
            ]
        if issubclass(stream, LoyaltyPrograms):
            return [("program_type", "in", list(PROMOTION_PROGRAM_TYPES))]
        return []

    def _location_ids(self) -> list[int]:
        """Ids of the stock locations read: the named ones, or every internal one."""
        client = self.client
        names = self.settings.stock_locations
        domain: list[Any] = [("complete_name", "in", names)] if names else [("usage", "=", "internal")]
        rows = client.search_read("stock.location", domain, ["complete_name"], order="id asc")
        unknown = sorted(set(names) - {row.get("complete_name") for row in rows})
        if unknown:
            raise ConfigError(
                f"connection '{self.connection}': setting 'stock_locations': no location named '{unknown[0]}'",
                setting="stock_locations",
            )
        return [int(row["id"]) for row in rows]

    def _complete(self, stream: type[OdooStream], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add what a record needs from related models: SKUs, order lines, promotion codes and rewards."""
        if not rows:
            return rows
        if stream.product_field:
            self._add_product_codes(rows, stream.product_field)
        if issubclass(stream, SaleOrders):
            (lines,) = stream.children
            self._add_children(rows, lines, SaleOrders.line_fields)
            self._add_product_codes([line for row in rows for line in row["lines"]], "product_id")
        elif issubclass(stream, LoyaltyPrograms):
            rules, rewards = stream.children
            self._add_children(rows, rules, LoyaltyPrograms.rule_fields)
            self._add_children(rows, rewards, LoyaltyPrograms.reward_fields)
        elif issubclass(stream, Consents):
            self._add_partner_ids(rows)
        return rows

    def _add_product_codes(self, rows: list[dict[str, Any]], field: str) -> None:
        ids = sorted({value[0] for row in rows if _is_many2one(value := row.get(field))})
        codes: dict[int, Any] = {}
        for chunk in _chunks(ids, self.settings.page_size):
            found = self.client.search_read(
                PRODUCT_MODEL, [("id", "in", chunk)], ["default_code"], context={"active_test": False}
            )
            codes.update({int(row["id"]): row.get("default_code") for row in found})
        for row in rows:
            value = row.get(field)
            row["product_default_code"] = codes.get(value[0]) if _is_many2one(value) else None

    def _add_children(self, rows: list[dict[str, Any]], children: ChildList, fields: tuple[str, ...]) -> None:
        """Put each row's child records under `children.key`, in the order the parent lists them.

        Children are found by the ids in the parent's one2many field when every row holds that list, so that a
        child whose own link to the parent came back broken is placed all the same (and its record model then
        finds it malformed); otherwise by the children's link to their parent.
        """
        client = self.client
        available = [name for name in fields if name in client.field_types(children.model)]
        context = {"active_test": False}
        listed = [row.pop(children.link, None) for row in rows]
        if all(isinstance(ids, list) for ids in listed):
            wanted = sorted({child for ids in listed for child in ids if isinstance(child, int)})  # type: ignore[union-attr]
            found: dict[int, dict[str, Any]] = {}
            for chunk in _chunks(wanted, self.settings.page_size):
                read = client.search_read(children.model, [("id", "in", chunk)], available, context=context)
                found.update({child["id"]: child for child in read if isinstance(child.get("id"), int)})
            for row, ids in zip(rows, listed, strict=True):
                row[children.key] = [found[child] for child in ids if child in found]  # type: ignore[union-attr]
            return
        parents = [int(row["id"]) for row in rows if isinstance(row.get("id"), int)]
        by_parent: dict[int, list[dict[str, Any]]] = {parent: [] for parent in parents}
        for chunk in _chunks(parents, min(self.settings.page_size, CHILDREN_PARENTS_PER_CALL)):
            found_children = client.search_read(
                children.model, [(children.parent_field, "in", chunk)], available, order="id asc", context=context
            )
            for child in found_children:
                parent = child.get(children.parent_field)
                if _is_many2one(parent) and parent[0] in by_parent:
                    by_parent[parent[0]].append(child)
        for row in rows:
            row[children.key] = by_parent.get(row.get("id"), [])  # type: ignore[arg-type]

    def _add_partner_ids(self, rows: list[dict[str, Any]]) -> None:
        client = self.client
        field = "email_normalized" if "email_normalized" in client.field_types("res.partner") else "email"
        emails = sorted({row["email"].strip().lower() for row in rows if isinstance(row.get("email"), str)})
        holders: dict[str, list[int]] = {email: [] for email in emails}
        for chunk in _chunks(emails, self.settings.page_size):
            found = client.search_read(
                "res.partner", [(field, "in", chunk)], [field], order="id asc", context={"active_test": False}
            )
            for partner in found:
                email = partner.get(field)
                if isinstance(email, str) and email.strip().lower() in holders:
                    holders[email.strip().lower()].append(int(partner["id"]))
        for row in rows:
            email = row.get("email")
            row["partner_ids"] = holders.get(email.strip().lower(), []) if isinstance(email, str) else []

    # -- writing -----------------------------------------------------------------------------------

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Blank the partner's personal fields and archive it (Odoo keeps the partner its documents point to)."""
        if stream not in self.erasure:
            return super().erase(stream, source_id)
        client = self._ready()
        types = client.field_types(PARTNER_MODEL)
        values: dict[str, Any] = {name: False for name in ERASED_PARTNER_FIELDS if name in types}
        values.update({"name": ERASED_NAME, "active": False})
        partner = int(source_id)
        found = client.execute(PARTNER_MODEL, "search", domain=[("id", "=", partner)], context={"active_test": False})
        if not found:
            return WriteResult(record_key=source_id, status="unchanged")
        client.execute(PARTNER_MODEL, "write", ids=[partner], vals=values, context={"active_test": False})
        return WriteResult(record_key=source_id, status="applied")

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        declared = self.stream(stream)
        if not (isinstance(declared, type) and issubclass(declared, Consents)):
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only (Odoo is the system of record)")
        if not self.settings.allow_writes:
            raise ConfigError(
                f"connection '{self.connection}': setting 'allow_writes' is false; Canalis does not write to Odoo",
                setting="allow_writes",
            )
        client = self._ready()
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.settings.write_batch_size:
                yield from write_consents(client, batch)
                batch = []
        if batch:
            yield from write_consents(client, batch)


def _is_many2one(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
