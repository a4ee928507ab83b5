"""Publishing settings: which system owns each entity, and how each channel receives it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from canalis.sdk.errors import ConfigError, ConfigProblem
from canalis.sdk.settings import did_you_mean

if TYPE_CHECKING:
    from canalis.config.connections import CanalisConfig

PUBLISHABLE = ("prices", "stock_levels", "promotions", "consents", "customers")
MASTERED = ("prices", "stock_levels", "promotions")
SYSTEM_OF_RECORD_CONNECTORS = ("odoo", "sql_erp")
DEFAULT_PUBLISH = ("prices", "stock_levels", "promotions", "consents")
ConsentRule = Literal["most_restrictive", "most_recent"]


class ChannelPolicy(BaseModel):
    """How one channel receives what Canalis publishes to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_list: str | None = Field(
        default=None, description="system-of-record price list the channel's price comes from; empty to infer"
    )
    tax_included: bool = Field(default=True, description="whether the channel shows prices with tax")
    tax_rate: Decimal | None = Field(
        default=None, description="tax rate used when the price list and the channel differ on tax, e.g. 0.20"
    )
    currency: str = Field(default="EUR", description="currency the channel sells in")
    rounding: Decimal | None = Field(default=Decimal("0.01"), description="price rounding step, e.g. 0.01")
    stock_buffer: Decimal = Field(default=Decimal(0), description="units held back from the channel", ge=0)
    locations: dict[str, str] = Field(
        default_factory=dict,
        description="system-of-record location -> channel location; empty to infer from the channel's stock",
    )
    promotions: list[str] | None = Field(
        default=None, description="promotion codes the channel may receive; empty for all"
    )
    publish: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PUBLISH), description="entities Canalis writes to this channel"
    )
    channel_kind: str | None = Field(
        default=None, description="customer channel of the connection (web, store...); filled from the connections"
    )
    max_change_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="circuit breaker for this channel: largest share of its prices or stock one plan may change; "
        "empty for the gates' default",
    )

    @field_validator("publish")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PUBLISHABLE))
        if unknown:
            raise ValueError(f"unknown entities {unknown}; publishable: {', '.join(PUBLISHABLE)}")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def publishes(self, entity: str) -> bool:
        """Whether Canalis writes this entity to the channel."""
        return entity in self.publish

    def round_price(self, amount: Decimal | None) -> Decimal | None:
        """A price rounded to the channel's step."""
        if amount is None or self.rounding is None:
            return amount
        return (amount / self.rounding).quantize(Decimal(1), rounding=ROUND_HALF_UP) * self.rounding

    def allows_promotion(self, code: str) -> bool:
        """Whether a promotion code may be published to the channel."""
        return self.promotions is None or code in self.promotions


class PublishGates(BaseModel):
    """Checks that must pass before a publish run writes anything (blocking asset checks of the publish job)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_quarantine_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="largest share of the plan's channels' and systems of record's records held in quarantine",
    )
    max_open_errors: int = Field(
        default=1000, ge=0, description="most open inconsistencies of severity error per rule before publishing stops"
    )
    max_open: dict[str, int] = Field(
        default_factory=dict, description="per rule code, the most open inconsistencies before publishing stops"
    )
    max_change_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="circuit breaker: largest share of a channel's prices or stock that one plan may change",
    )
    min_records: int = Field(
        default=20, ge=0, description="channels holding fewer prices or stock levels than this skip the breaker"
    )

    @field_validator("max_open")
    @classmethod
    def _known_rules(cls, value: dict[str, int]) -> dict[str, int]:
        from canalis.consistency.rules import RULES

        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule code '{unknown[0]}' (known: {', '.join(sorted(RULES))})")
        return value


class PublishConfig(BaseModel):
    """The `publish` section: systems of record, channel policies, consent rules, approval and gates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    systems_of_record: dict[str, str] = Field(
        default_factory=dict, description="entity -> connection that owns it (prices, stock_levels, promotions)"
    )
    channels: dict[str, ChannelPolicy] = Field(default_factory=dict, description="channel policies by connection")
    price_tolerance: Decimal = Field(default=Decimal("0.01"), description="price differences up to this are equal")
    consent_rule: ConsentRule | dict[str, ConsentRule] = Field(
        default="most_restrictive", description="how consents from several systems combine, or one rule per purpose"
    )
    propagate_opt_ins: bool = Field(
        default=False,
        description=(
            "also push a consent granted elsewhere to channels where the customer never subscribed; off by "
            "default, since consent given to one system does not opt a customer in everywhere (opt-outs always "
            "propagate)"
        ),
    )
    complaint_closed_statuses: list[str] = Field(
        default_factory=lambda: ["closed", "resolved", "solved"],
        description="interaction statuses that end a complaint (any other status keeps it open)",
    )
    mode: Literal["plan", "apply"] = Field(
        default="plan", description="plan: plans are stored and shown, never applied; apply: approved plans are applied"
    )
    require_approval: bool = Field(
        default=True, description="a person approves each plan; false: the policy approves every plan it stores"
    )
    plan_max_age_hours: float = Field(
        default=24, gt=0, description="an approved plan older than this is expired instead of applied"
    )
    gates: PublishGates = Field(default_factory=PublishGates, description="checks that must pass before writing")

    def system_of_record(self, entity: str) -> str | None:
        """The connection owning an entity, if any."""
        return self.systems_of_record.get(entity)

    def channels_publishing(self, entity: str) -> dict[str, ChannelPolicy]:
        """The channels Canalis writes this entity to, by connection name, in name order."""
        return {name: policy for name, policy in sorted(self.channels.items()) if policy.publishes(entity)}

    def rule_for(self, purpose: str) -> ConsentRule:
        """The consent rule of a purpose (most_restrictive unless configured)."""
        if isinstance(self.consent_rule, str):
            return self.consent_rule
        return self.consent_rule.get(purpose, self.consent_rule.get("default", "most_restrictive"))

    @property
    def auto_approve(self) -> bool:
        """Whether the policy approves the plans it stores (apply mode without required approval)."""
        return self.mode == "apply" and not self.require_approval

    def change_share_limit(self, channel: str) -> float:
        """The circuit breaker's limit for a channel."""
        policy = self.channels.get(channel)
        if policy is not None and policy.max_change_share is not None:
            return policy.max_change_share
        return self.gates.max_change_share


def publish_problems(canalis_config: CanalisConfig) -> list[ConfigProblem]:
    """Systems of record and channel policies that name no enabled connection."""
    config = canalis_config.publish
    connections = canalis_config.enabled_connections()
    problems = [
        ConfigProblem(f"publish.systems_of_record.{entity}", f"'{name}' is not an enabled connection")
        for entity, name in config.systems_of_record.items()
        if name not in connections
    ]
    problems += [
        ConfigProblem(f"publish.channels.{name}", f"not an enabled connection{did_you_mean(name, connections)}")
        for name in config.channels
        if name not in connections
    ]
    return problems


def load_publish_config(canalis_config: CanalisConfig) -> PublishConfig:
    """The publish section, with systems of record and channels derived from the connections where not set."""
    problems = publish_problems(canalis_config)
    if problems:
        raise ConfigError.of(problems)
    config = canalis_config.publish
    connections = canalis_config.enabled_connections()
    systems = dict(config.systems_of_record)
    owner = next(
        (name for name, conn in sorted(connections.items()) if conn.connector in SYSTEM_OF_RECORD_CONNECTORS), None
    )
    for entity in MASTERED:
        if entity not in systems and owner is not None:
            systems[entity] = owner
    channels = dict(config.channels)
    if "channels" not in config.model_fields_set:
        channels = _default_channels(connections, set(systems.values()))
    channels = {
        name: policy if policy.channel_kind else policy.model_copy(update={"channel_kind": connections[name].channel})
        for name, policy in channels.items()
    }
    return config.model_copy(update={"systems_of_record": systems, "channels": channels})


def _default_channels(connections: dict[str, Any], owners: set[str]) -> dict[str, ChannelPolicy]:
    """One policy per connection that accepts writes of a published entity (systems of record excluded)."""
    from canalis.connectors.registry import discover

    registry = discover()
    channels: dict[str, ChannelPolicy] = {}
    for name, connection in sorted(connections.items()):
        registered = registry.get(connection.connector)
        if registered is None or name in owners:
            continue
        writable = {stream.name for stream in registered.connector.streams if stream.writable}
        if "allow_writes" in registered.connector.settings_model.model_fields and not connection.settings.get(
            "allow_writes"
        ):
            writable = set()
        entities = [entity for entity in DEFAULT_PUBLISH if entity in writable]
        if entities:
            channels[name] = ChannelPolicy(publish=entities)
    return channels
