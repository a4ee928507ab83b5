"""The Shopify connector (GraphQL Admin API)."""

from canalis.connectors.shopify.connector import ShopifyConnector

CONNECTOR = ShopifyConnector

__all__ = ["CONNECTOR", "ShopifyConnector"]
