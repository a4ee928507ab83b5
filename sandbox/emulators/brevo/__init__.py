"""Emulator of Brevo's API v3 (contacts, lists, blocklist, email events) for the sandbox."""

from canalis.sandbox.emulators.brevo.emulator import API_KEY, BrevoEmulator

EMULATOR = BrevoEmulator

__all__ = ["API_KEY", "EMULATOR", "BrevoEmulator"]
