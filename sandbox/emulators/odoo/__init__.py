"""Emulator of Odoo's external API (XML-RPC, JSON-RPC and the JSON-2 API of Odoo 19) for the sandbox."""

from canalis.sandbox.emulators.odoo.emulator import API_KEY, DATABASE, LOGIN, PASSWORD, OdooEmulator

EMULATOR = OdooEmulator

__all__ = ["API_KEY", "DATABASE", "EMULATOR", "LOGIN", "PASSWORD", "OdooEmulator"]
