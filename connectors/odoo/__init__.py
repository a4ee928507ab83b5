"""The Odoo connector: JSON-2 on Odoo 19+, XML-RPC or JSON-RPC before; Odoo is read as the system of record."""

from canalis.connectors.odoo.connector import OdooConnector

CONNECTOR = OdooConnector

__all__ = ["CONNECTOR", "OdooConnector"]
