"""Publishing to channels: policies, desired and observed state, plans, suppressions and consent."""

from mappings.channels.desired import (
    DesiredPrice,
    DesiredPromotion,
    DesiredStock,
    desired_prices,
    desired_promotions,
    desired_stock,
)
from mappings.channels.observed import observed_prices, observed_promotions, observed_stock
from mappings.channels.policy import ChannelPolicy, PublishConfig, load_publish_config

__all__ = [
    "ChannelPolicy",
    "DesiredPrice",
    "DesiredPromotion",
    "DesiredStock",
    "PublishConfig",
    "desired_prices",
    "desired_promotions",
    "desired_stock",
    "load_publish_config",
    "observed_prices",
    "observed_promotions",
    "observed_stock",
]
