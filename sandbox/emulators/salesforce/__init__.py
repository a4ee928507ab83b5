"""The Salesforce emulator of the Canalis sandbox (REST, Composite, Bulk API 2.0, SOAP and OAuth logins)."""

from canalis.sandbox.emulators.salesforce.emulator import SalesforceEmulator

EMULATOR = SalesforceEmulator

__all__ = ["EMULATOR", "SalesforceEmulator"]
