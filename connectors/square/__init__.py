"""The Square connector: POS customers, sales, catalog, inventory, discounts and locations."""

from connectors.square.connector import SquareConnector

CONNECTOR = SquareConnector

__all__ = ["CONNECTOR", "SquareConnector"]
