"""The Brevo connector (email marketing, API v3)."""

from connectors.brevo.connector import BrevoConnector

CONNECTOR = BrevoConnector

__all__ = ["CONNECTOR", "BrevoConnector"]
