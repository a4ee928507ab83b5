"""Alerts on failed runs and checks: the message, and its delivery by email, webhook and Slack."""

from canalis.alerts.delivery import AlertDeliveryError, deliver
from canalis.alerts.message import Alert

__all__ = ["Alert", "AlertDeliveryError", "deliver"]
