"""The Brevo connector (email marketing, API v3)."""

from canalis.connectors.brevo.connector import BrevoConnector

CONNECTOR = BrevoConnector

__all__ = ["CONNECTOR", "BrevoConnector"]
