"""Emulator of the Freshdesk API v2 (contacts, tickets, satisfaction ratings) for the sandbox."""

from canalis.sandbox.emulators.freshdesk.emulator import API_KEY, FreshdeskEmulator

EMULATOR = FreshdeskEmulator

__all__ = ["API_KEY", "EMULATOR", "FreshdeskEmulator"]
