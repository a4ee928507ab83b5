"""The IMAP connector: a customer-service mailbox read incrementally over IMAP (standard library imaplib)."""

from canalis.connectors.imap.connector import ImapConnector

CONNECTOR = ImapConnector

__all__ = ["CONNECTOR", "ImapConnector"]
