"""The Mailchimp connector for Canalis."""

from canalis_mailchimp.connector import MailchimpConnector

__all__ = ["MailchimpConnector"]
