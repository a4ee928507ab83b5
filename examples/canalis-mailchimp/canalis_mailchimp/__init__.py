"""The Mailchimp Marketing connector for Canalis: an external plugin, installed with pip."""

from canalis_mailchimp.connector import MailchimpConnector

__all__ = ["MailchimpConnector"]
