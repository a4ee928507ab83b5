"""The SQL ERP connector on SQLite, PostgreSQL and MariaDB: keyset reads, ties, late rows, resumes, hostile names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from canalis.connectors.registry import discover, shipped_mapping
from canalis.connectors.sql_erp import SqlErpConnector
from canalis.connectors.sql_erp.settings import DEFAULT_STREAMS, SqlErpSettings, StreamSource
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sdk.errors import ConfigError, ConnectorError
from canalis.sdk.state import StreamState
from canalis.store.types import dumps

BASE = datetime(2024, 3, 1, 8, 0, 0)
"""Naive UTC start of the test data (whole seconds: MariaDB DATETIME keeps no fractions by default)."""

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
]


# --- the ERP-like schema -----------------------------------------------------------------------------


def erp_metadata() -> sa.MetaData:
    """The typical ERP schema the example mapping reads (orders use a zone-aware cursor column)."""
    metadata = sa.MetaData()
    money = sa.Numeric(12, 2)
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(20)),
        sa.Column("first_name", sa.String(60)),
        sa.Column("last_name", sa.String(60)),
        sa.Column("email", sa.String(120)),
        sa.Column("phone", sa.String(30)),
        sa.Column("street", sa.String(120)),
        sa.Column("postcode", sa.String(10)),
        sa.Column("city", sa.String(60)),
        sa.Column("country", sa.String(40)),
        sa.Column("birth_date", sa.Date),
        sa.Column("marketing_opt_in", sa.Boolean),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    sa.Table(
        "products",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sku", sa.String(30)),
        sa.Column("name", sa.String(120)),
        sa.Column("active", sa.Boolean),
        sa.Column("category", sa.String(40)),
        sa.Column("updated_at", sa.DateTime),
    )
    sa.Table(
        "prices",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sku", sa.String(30)),
        sa.Column("price_list", sa.String(30)),
        sa.Column("amount", money),
        sa.Column("compare_at_amount", money),
        sa.Column("currency", sa.String(3)),
        sa.Column("tax_included", sa.Boolean),
        sa.Column("valid_from", sa.DateTime),
        sa.Column("valid_to", sa.DateTime),
        sa.Column("updated_at", sa.DateTime),
    )
    sa.Table(
        "stock_levels",
        metadata,
        sa.Column("sku", sa.String(30), primary_key=True),
        sa.Column("location", sa.String(30), primary_key=True),
        sa.Column("on_hand", money),
        sa.Column("reserved", money),
        sa.Column("row_version", sa.Integer),
        sa.Column("updated_at", sa.DateTime),
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_number", sa.String(20)),
        sa.Column("customer_id", sa.Integer),
        sa.Column("ordered_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20)),
        sa.Column("total", money),
        sa.Column("currency", sa.String(3)),
        sa.Column("location", sa.String(30)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    sa.Table(
        "order_lines",
        metadata,
        sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sku", sa.String(30)),
        sa.Column("quantity", money),
        sa.Column("unit_price", money),
        sa.Column("currency", sa.String(3)),
        sa.Column("updated_at", sa.DateTime),
    )
    sa.Table(
        "promotions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(30)),
        sa.Column("name", sa.String(80)),
        sa.Column("discount_type", sa.String(10)),
        sa.Column("discount_value", money),
        sa.Column("currency", sa.String(3)),
        sa.Column("starts_at", sa.DateTime),
        sa.Column("ends_at", sa.DateTime),
        sa.Column("status", sa.String(12)),
        sa.Column("updated_at", sa.DateTime),
    )
    return metadata


class Erp:
    """A test ERP database: creates the schema, seeds rows and changes them (the connector only reads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        self.metadata = erp_metadata()
        self.metadata.create_all(self.engine)
        self.tables = self.metadata.tables

    def moment(self, table: str, value: datetime) -> datetime:
        """A naive UTC test time as the column wants it (aware for zone-aware columns on PostgreSQL)."""
        column = self.tables[table].c.updated_at
        if getattr(column.type, "timezone", False) and self.engine.dialect.name == "postgresql":
            return value.replace(tzinfo=UTC)
        return value

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            connection.execute(self.tables[table].insert(), rows)

    def update(self, table: str, where: sa.ColumnElement[bool], **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(self.tables[table].update().where(where).values(**values))

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(self.tables[table])).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


def customer(number: int, updated_at: datetime | None) -> dict[str, Any]:
    return {
        "id": number,
        "code": f"C{number:05d}",
        "first_name": f"Ann{number}",
        "last_name": "Martin",
        "email": f"ann{number}@example.fr",
        "phone": "06 12 34 56 78",
        "street": "1 rue de la Paix",
        "postcode": "75002",
        "city": "Paris",
        "country": "FR" if number % 2 else "France",
        "birth_date": datetime(1980, 1, 1 + number % 28).date(),
        "marketing_opt_in": number % 3 != 0,
        "created_at": BASE - timedelta(days=30),
        "updated_at": updated_at,
    }


def seed(erp: Erp) -> None:
    """Rows with cursor ties, NULL cursors and exact decimal prices."""
    customers = []
    for number in range(1, 26):
        # ids 3, 11 and 19 were never updated since the ERP's migration; runs of 4 rows share one timestamp
        updated = None if number in (3, 11, 19) else BASE + timedelta(minutes=number // 4)
        customers.append(customer(number, updated))
    erp.insert("customers", customers)
    erp.insert(
        "products",
        [
            {
                "id": n,
                "sku": f"SKU-{n}",
                "name": f"Lamp {n}",
                "active": n != 4,
                "category": "light",
                "updated_at": BASE + timedelta(minutes=n),
            }
            for n in range(1, 9)
        ],
    )
    amounts = [Decimal("19.99"), Decimal("0.10"), Decimal("1234567.89"), Decimal("5.00")]
    erp.insert(
        "prices",
        [
            {
                "id": n,
                "sku": f"SKU-{n}",
                "price_list": "retail" if n % 2 else "wholesale",
                "amount": amounts[n % 4],
                "compare_at_amount": None if n % 3 else Decimal("24.90"),
                "currency": "EUR",
                "tax_included": True,
                "valid_from": BASE - timedelta(days=1),
                "valid_to": None,
                "updated_at": BASE,
            }
            for n in range(1, 9)
        ],
    )
    erp.insert(
        "stock_levels",
        [
            {
                "sku": f"SKU-{n}",
                "location": location,
                "on_hand": Decimal(n * 3),
                "reserved": Decimal("1.00"),
                "row_version": n * 10 + index,
                "updated_at": BASE + timedelta(minutes=n),
            }
            for n in range(1, 6)
            for index, location in enumerate(("PARIS", "LYON"))
        ],
    )
    erp.insert(
        "orders",
        [
            {
                "id": n,
                "order_number": f"SO{n:04d}",
                "customer_id": n % 25 + 1,
                "ordered_at": erp.moment("orders", BASE + timedelta(hours=n)),
                "status": "CONFIRMED",
                "total": Decimal("39.98"),
                "currency": "eur",
                "location": "PARIS",
                "updated_at": erp.moment("orders", BASE + timedelta(hours=n // 2)),
            }
            for n in range(1, 13)
        ],
    )
    erp.insert(
        "order_lines",
        [
            {
                "order_id": n,
                "line_no": line,
                "sku": f"SKU-{line}",
                "quantity": Decimal(2),
                "unit_price": Decimal("19.99"),
                "currency": "EUR",
                "updated_at": BASE,
            }
            for n in range(1, 13)
            for line in (1, 2)
        ],
    )
    erp.insert(
        "promotions",
        [
            {
                "id": 1,
                "code": "SPRING10",
                "name": "Spring",
                "discount_type": "percent",
                "discount_value": Decimal("10"),
                "currency": None,
                "starts_at": BASE,
                "ends_at": BASE + timedelta(30),
                "status": "active",
                "updated_at": BASE,
            },
            {
                "id": 2,
                "code": "TAKE5",
                "name": "Five off",
                "discount_type": "amount",
                "discount_value": Decimal("5.00"),
                "currency": "EUR",
                "starts_at": None,
                "ends_at": None,
                "status": "disabled",
                "updated_at": BASE + timedelta(minutes=1),
            },
        ],
    )


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def erp_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend (SQLite always; the servers when they run)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'erp.db'}"
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def erp(erp_url: str) -> Iterator[Erp]:
    database = Erp(erp_url)
    seed(database)
    yield database
    database.close()


def make_connector(url: str, **values: Any) -> SqlErpConnector:
    settings = SqlErpSettings.model_validate({"url": url, **values})
    return SqlErpConnector(settings, connection="erp")


def read(
    connector: SqlErpConnector, stream: str, state: StreamState | None = None, *, max_pages: int | None = None
) -> tuple[list[dict[str, Any]], StreamState | None, int]:
    """Records and the last state of a read (stopped after `max_pages` pages like a killed run)."""
    records: list[dict[str, Any]] = []
    last = state
    pages = 0
    reader = connector.read(stream, state)
    for page in reader:
        assert not page.rejected, page.rejected
        records.extend(page.records)
        last = page.state
        pages += 1
        if max_pages is not None and pages >= max_pages:
            reader.close()  # what a killed run leaves behind: the state of the last stored page
            break
    return records, last, pages


def ids(records: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return [record[key] for record in records]


@pytest.fixture
def connector_for(erp: Erp) -> Iterator[Any]:
    made: list[SqlErpConnector] = []

    def build(**values: Any) -> SqlErpConnector:
        connector = make_connector(erp.url, **{"page_size": 4, "rows_per_query": 10, **values})
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


# --- reading -----------------------------------------------------------------------------------------


def test_reads_everything_maps_cleanly_and_then_nothing_new(erp: Erp, connector_for) -> None:
    connector = connector_for()
    assert connector.check().ok
    mapper = Mapper(load_mapping(shipped_mapping("sql_erp")), connection="erp", channel="erp")
    for stream in DEFAULT_STREAMS:
        records, state, _ = read(connector, stream)
        key = connector.stream(stream).primary_key
        assert len(records) == erp.count(stream), stream
        assert len(set(ids(records, key))) == len(records), f"{stream}: a row was read twice"
        for record in records:
            mapped = mapper.map_record(stream, json.loads(dumps(record)))
            assert mapped, f"{stream}: record {record[key]} mapped to nothing"
        again, _, _ = read(connector, stream, state)
        assert again == [], f"{stream}: an incremental read without changes returned rows"


def test_values_keep_their_types(erp: Erp, connector_for) -> None:
    connector = connector_for()
    prices, _, _ = read(connector, "prices")
    by_id = {record["id"]: record for record in prices}
    assert by_id[1]["amount"] == Decimal("0.10") and isinstance(by_id[1]["amount"], Decimal)
    assert by_id[2]["amount"] == Decimal("1234567.89")
    assert by_id[3]["compare_at_amount"] == Decimal("24.90")
    customers, _, _ = read(connector, "customers")
    first = next(record for record in customers if record["id"] == 4)
    assert first["updated_at"] == (BASE + timedelta(minutes=1)).replace(tzinfo=UTC)
    assert first["birth_date"] == "1980-01-05"
    assert {record["id"] for record in customers if record["updated_at"] is None} == {3, 11, 19}
    orders, _, _ = read(connector, "orders")
    assert all(record["updated_at"].tzinfo is UTC for record in orders)
    assert orders[0]["ordered_at"] == (BASE + timedelta(hours=orders[0]["id"])).replace(tzinfo=UTC)


def test_null_cursors_come_first_then_cursor_and_key_order(erp: Erp, connector_for) -> None:
    records, state, pages = read(connector_for(), "customers")
    assert ids(records)[:3] == [3, 11, 19]
    rest = [(record["updated_at"], record["id"]) for record in records[3:]]
    assert rest == sorted(rest)
    assert pages >= 25 // 4
    assert state is not None and state.extra["phase"] == "values" and state.extra["done"] is True
    assert state.cursor == (BASE + timedelta(minutes=6)).replace(tzinfo=UTC).isoformat()


def test_new_and_updated_rows_are_read_once_including_ties(erp: Erp, connector_for) -> None:
    connector = connector_for()
    _, state, _ = read(connector, "customers")
    last = BASE + timedelta(minutes=6)  # the highest cursor: ids 24 and 25
    erp.insert("customers", [customer(26, last), customer(27, last + timedelta(seconds=1)), customer(28, None)])
    erp.update("customers", erp.tables["customers"].c.id.in_([5, 11]), updated_at=last + timedelta(minutes=5))
    changed, state, _ = read(connector, "customers", state)
    # 26 ties with the stored cursor but has a higher key; 28 has no cursor and cannot be seen as new.
    assert sorted(ids(changed)) == [5, 11, 26, 27]
    again, _, _ = read(connector, "customers", state)
    assert again == []


def test_a_killed_read_resumes_without_losing_or_duplicating_rows(erp: Erp, connector_for) -> None:
    connector = connector_for(page_size=3, rows_per_query=7)
    everything, _, total_pages = read(connector, "customers")
    for stop_after in range(1, total_pages):
        first, state, _ = read(connector, "customers", max_pages=stop_after)
        rest, final, _ = read(connector, "customers", state)
        combined = ids(first) + ids(rest)
        assert sorted(combined) == sorted(ids(everything)), f"stopped after {stop_after} pages"
        assert len(combined) == len(set(combined)), f"stopped after {stop_after} pages: duplicates"
        assert read(connector, "customers", final)[0] == []


def test_an_interrupted_incremental_read_resumes_exactly(erp: Erp, connector_for) -> None:
    connector = connector_for(page_size=2, rows_per_query=5)
    _, state, _ = read(connector, "customers")
    moment = BASE + timedelta(hours=1)
    erp.insert("customers", [customer(n, moment + timedelta(seconds=n % 3)) for n in range(30, 42)])
    first, partial, _ = read(connector, "customers", state, max_pages=3)
    rest, _, _ = read(connector, "customers", partial)
    combined = ids(first) + ids(rest)
    assert sorted(combined) == list(range(30, 42))


def test_lookback_rereads_late_rows(erp: Erp, connector_for) -> None:
    connector = connector_for(lookback_seconds=600)
    _, state, _ = read(connector, "customers")
    last = BASE + timedelta(minutes=6)
    erp.insert(
        "customers",
        [customer(50, last - timedelta(minutes=3)), customer(51, last - timedelta(hours=2))],  # committed late
    )
    again, state, _ = read(connector, "customers", state)
    window = {record["id"] for record in again}
    assert 50 in window and 51 not in window
    assert all(record["updated_at"] >= (last - timedelta(minutes=10)).replace(tzinfo=UTC) for record in again)
    assert state is not None and state.cursor == last.replace(tzinfo=UTC).isoformat()
    without_lookback = connector_for(lookback_seconds=0)
    assert read(without_lookback, "customers", state)[0] == []


def test_composite_keys_and_integer_cursors(erp: Erp, connector_for) -> None:
    streams = {
        "stock": {
            "table": "stock_levels",
            "primary_key": ["sku", "location"],
            "cursor": "row_version",
            "cursor_kind": "integer",
        },
        "lines": {"table": "order_lines", "primary_key": ["order_id", "line_no"]},
    }
    connector = connector_for(streams=streams, page_size=3, rows_per_query=4)
    assert [stream.name for stream in connector.declared_streams()] == ["stock", "lines"]
    stock, state, _ = read(connector, "stock")
    assert len(stock) == erp.count("stock_levels")
    assert all(record["_key"] == f"{record['sku']}:{record['location']}" for record in stock)
    assert state is not None and state.cursor == "51" and state.cursor_kind == "integer"
    erp.update("stock_levels", erp.tables["stock_levels"].c.sku == "SKU-2", row_version=99)
    changed, _, _ = read(connector, "stock", state)
    assert sorted(ids(changed, "_key")) == ["SKU-2:LYON", "SKU-2:PARIS"]
    lines, state, _ = read(connector, "lines")
    assert len({record["_key"] for record in lines}) == len(lines) == erp.count("order_lines")
    first, partial, _ = read(connector, "lines", max_pages=3)
    rest, _, _ = read(connector, "lines", partial)
    assert sorted(ids(first + rest, "_key")) == sorted(ids(lines, "_key"))
    # a stream without a cursor is read whole again on the next run
    assert len(read(connector, "lines", state)[0]) == len(lines)


def test_a_query_stream_is_wrapped_and_filtered_outside(erp: Erp, connector_for) -> None:
    query = (
        "SELECT o.id, o.order_number, o.total, o.updated_at, c.email AS customer_email "
        "FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'CONFIRMED'"
    )
    streams = {"sales": {"query": query, "primary_key": "id", "cursor": "updated_at"}}
    connector = connector_for(streams=streams, page_size=2, rows_per_query=3)
    check = connector.check()
    assert "sales" in check.details
    records, state, _ = read(connector, "sales")
    assert sorted(ids(records)) == list(range(1, 13))
    assert all(record["customer_email"].endswith("@example.fr") for record in records)
    assert read(connector, "sales", state)[0] == []
    later = erp.moment("orders", BASE + timedelta(days=2))
    erp.update("orders", erp.tables["orders"].c.id == 7, updated_at=later)
    changed, _, _ = read(connector, "sales", state)
    assert ids(changed) == [7]


# --- safety ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "setting"),
    [
        ({"table": "customers; DROP TABLE customers", "primary_key": "id"}, "table"),
        ({"table": 'customers" --', "primary_key": "id"}, "table"),
        ({"table": "customers", "primary_key": "id) OR (1=1"}, "primary_key"),
        ({"table": "customers", "primary_key": "id", "cursor": "updated_at DESC --"}, "cursor"),
        ({"table": "a.b.c", "primary_key": "id"}, "table"),
        ({"query": "DELETE FROM customers", "primary_key": "id"}, "query"),
        ({"query": "SELECT 1; DROP TABLE customers", "primary_key": "id"}, "query"),
    ],
)
def test_hostile_identifiers_are_refused_by_the_settings(
    stream: dict[str, Any], setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_URL", "sqlite://")
    with pytest.raises(ConfigError) as raised:
        SqlErpConnector.from_config({"url": {"env": "ERP_URL"}, "streams": {"x": stream}}, connection="erp")
    assert raised.value.setting is not None and raised.value.setting.startswith("streams.x")
    assert setting in str(raised.value)


def test_names_not_in_the_database_are_refused_naming_the_setting(erp: Erp, connector_for) -> None:
    cases = {
        "streams.x.table": {"table": "customer_archive", "primary_key": "id"},
        "streams.x.primary_key": {"table": "customers", "primary_key": "customer_no"},
        "streams.x.cursor": {"table": "customers", "primary_key": "id", "cursor": "modified"},
    }
    for setting, stream in cases.items():
        connector = connector_for(streams={"x": stream})
        with pytest.raises(ConfigError) as raised:
            connector.check()
        assert raised.value.setting == setting
        with pytest.raises(ConfigError):
            list(connector.read("x"))
    # names that slipped past the settings pattern still have to be in the reflected schema
    connector = connector_for()
    hostile = [
        StreamSource.model_construct(table="customers; DROP TABLE customers", primary_key=["id"], cursor=None),
        StreamSource.model_construct(table="customers", primary_key=["id) OR (1=1"], cursor=None),
        StreamSource.model_construct(table="customers", primary_key=["id"], cursor="updated_at; --"),
    ]
    with connector.database.connect() as connection:
        for source in hostile:
            with pytest.raises(ConfigError, match=r"no (table|column)"):
                connector.database.source(connection, "x", source)
    assert erp.count("customers") == 25


def test_the_connector_cannot_write(erp: Erp, connector_for) -> None:
    connector = connector_for()
    with pytest.raises(ConnectorError, match="query failed"), connector.database.connect() as connection:
        connection.execute(sa.text("DELETE FROM customers"))
    assert erp.count("customers") == 25


def test_a_bad_url_names_the_setting_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Sup3r-Secret-pw"
    refused = make_connector(f"postgresql+psycopg://reader:{secret}@127.0.0.1:9/erp?connect_timeout=2")
    assert secret not in repr(refused) and secret not in repr(refused.settings)
    with pytest.raises(ConfigError) as raised:
        refused.check()
    assert raised.value.setting == "url" and secret not in str(raised.value) and "***" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        make_connector(f"not a url {secret}")
    assert raised.value.setting == "url" and secret not in str(raised.value)
    with pytest.raises(ConfigError, match="no SQLAlchemy dialect") as raised:
        make_connector(f"nosuchdb://u:{secret}@host/db").check()
    assert secret not in str(raised.value)
    monkeypatch.setenv("CANALIS_SQL_ERP_PASSWORD", secret)
    monkeypatch.setenv("ERP_URL", "postgresql+psycopg://reader@127.0.0.1:9/erp")
    from_env = SqlErpConnector.from_config({"url": {"env": "ERP_URL"}}, connection="erp")
    assert isinstance(from_env, SqlErpConnector)
    assert from_env.database.display_url == "postgresql+psycopg://reader:***@127.0.0.1:9/erp"
    with pytest.raises(ConfigError, match="must come from an environment variable"):
        SqlErpConnector.from_config({"url": "sqlite://"}, connection="erp")


def test_declared_streams_follow_the_settings_and_the_registry_lists_the_standard_set(tmp_path: Path) -> None:
    registered = discover(include_plugins=False)["sql_erp"].connector
    assert [stream.name for stream in registered.streams] == list(DEFAULT_STREAMS)
    assert registered.kind == "erp"
    standard = make_connector(f"sqlite:///{tmp_path / 'x.db'}")
    assert [stream.name for stream in standard.declared_streams()] == list(DEFAULT_STREAMS)
    connector = make_connector(
        f"sqlite:///{tmp_path / 'x.db'}", streams={"customers": {"table": "CUSTMAST", "primary_key": "CUSTNO"}}
    )
    (stream,) = connector.declared_streams()
    assert (stream.name, stream.primary_key, stream.cursor_field) == ("customers", "CUSTNO", None)


def test_ingest_lands_every_row_and_resumes_from_the_stored_state(erp: Erp, connector_for, store) -> None:
    from canalis.ingest.stream import ingest_stream

    connector = connector_for()
    first = ingest_stream(store, connector, "customers")
    assert first.records_read == first.inserted == erp.count("customers") and first.quarantined == 0
    assert ingest_stream(store, connector, "customers").records_read == 0
    erp.update("customers", erp.tables["customers"].c.id == 8, updated_at=BASE + timedelta(days=1))
    again = ingest_stream(store, connector, "customers")
    assert (again.records_read, again.updated) == (1, 1)
    lines = ingest_stream(store, connector, "order_lines")
    assert lines.records_read == erp.count("order_lines")
