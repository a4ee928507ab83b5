"""The HubSpot connector."""

from canalis.connectors.hubspot.connector import HubSpotConnector

CONNECTOR = HubSpotConnector

__all__ = ["CONNECTOR", "HubSpotConnector"]
