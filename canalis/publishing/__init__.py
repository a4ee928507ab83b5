"""Publishing to channels: policies, desired and observed state, plans, suppressions and consent."""

from canalis.publishing.desired import (
    DesiredPrice,
    DesiredPromotion,
    DesiredStock,
    desired_prices,
    desired_promotions,
    desired_stock,
)
from canalis.publishing.observed import observed_prices, observed_promotions, observed_stock
from canalis.publishing.plans import (
    PlanError,
    StoredChange,
    StoredPlan,
    approve_plan,
    list_plans,
    load_plan,
    plan_changes,
    propose_plan,
    reject_plan,
)
from canalis.publishing.policy import ChannelPolicy, PublishConfig, load_publish_config

__all__ = [
    "ChannelPolicy",
    "DesiredPrice",
    "DesiredPromotion",
    "DesiredStock",
    "PlanError",
    "PublishConfig",
    "StoredChange",
    "StoredPlan",
    "approve_plan",
    "desired_prices",
    "desired_promotions",
    "desired_stock",
    "list_plans",
    "load_plan",
    "load_publish_config",
    "observed_prices",
    "observed_promotions",
    "observed_stock",
    "plan_changes",
    "propose_plan",
    "reject_plan",
]
