"""Emulator of the Mailchimp Marketing API v3 (audiences, members, tags, campaigns, reports) for the sandbox."""

from canalis.sandbox.emulators.mailchimp.emulator import API_KEY, DATA_CENTER, MailchimpEmulator

EMULATOR = MailchimpEmulator

__all__ = ["API_KEY", "DATA_CENTER", "EMULATOR", "MailchimpEmulator"]
