"""The HubSpot connector."""

from connectors.hubspot.connector import HubSpotConnector

CONNECTOR = HubSpotConnector

__all__ = ["CONNECTOR", "HubSpotConnector"]
