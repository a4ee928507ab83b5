"""The SQL ERP connector: an ERP read through its database (any SQLAlchemy URL), incrementally and read-only."""

from canalis.connectors.sql_erp.connector import SqlErpConnector

CONNECTOR = SqlErpConnector

__all__ = ["CONNECTOR", "SqlErpConnector"]
