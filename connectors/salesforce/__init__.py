"""The Salesforce connector (CRM): SOQL reads over REST or Bulk API 2.0, writes through sObject Collections."""

from canalis.connectors.salesforce.connector import SalesforceConnector

CONNECTOR = SalesforceConnector

__all__ = ["CONNECTOR", "SalesforceConnector"]
