"""Respecting people's data: personal values masked wherever Canalis shows records outside the store."""

from canalis.privacy.masking import MASK, mask_record, mask_text, mask_value

__all__ = ["MASK", "mask_record", "mask_text", "mask_value"]
