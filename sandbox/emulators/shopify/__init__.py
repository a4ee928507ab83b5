"""Emulator of the Shopify GraphQL Admin API for the Canalis sandbox."""

from canalis.sandbox.emulators.shopify.emulator import ACCESS_TOKEN, READ_ONLY_ACCESS_TOKEN, ShopifyEmulator

EMULATOR = ShopifyEmulator

__all__ = ["ACCESS_TOKEN", "EMULATOR", "READ_ONLY_ACCESS_TOKEN", "ShopifyEmulator"]
