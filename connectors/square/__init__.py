"""The Square connector: POS customers, sales, catalog, inventory, discounts and locations."""

from canalis.connectors.square.connector import SquareConnector

CONNECTOR = SquareConnector

__all__ = ["CONNECTOR", "SquareConnector"]
