"""Fault injection: latency, 429 bursts, 5xx answers, dropped connections, malformed records and lost replies.

A fault spec is `system:fault=rate,...;system:...` where `system` is an emulator prefix or `*`, e.g.
`hubspot:429=0.05,500=0.02,latency=0.05;*:drop=0.01`. Rates are probabilities per request (per record for
`malformed`, per applied write for `lost_reply`); `latency` is seconds added to each request; `burst` makes each
429 last that many requests. The `*` faults apply to every emulator, a named system's own settings taking
precedence fault by fault: with `hubspot:429=0.05;*:drop=0.01`, HubSpot gets 429s and drops.

`lost_reply` is the fault of a write the vendor applied whose answer never arrives: the emulator stores the
write, then breaks the connection (or, every other time, answers 502), so the client cannot tell it landed.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from canalis.sdk.errors import ConfigError

KNOWN_FAULTS = {"latency", "429", "500", "502", "503", "drop", "malformed", "burst", "lost_reply"}
EVERY_SYSTEM = "*"


@dataclass(frozen=True)
class FaultRates:
    """Fault rates of one emulator."""

    latency: float = 0.0
    rate_limited: float = 0.0
    server_errors: dict[int, float] = field(default_factory=dict)
    drop: float = 0.0
    malformed: float = 0.0
    burst: int = 1
    lost_reply: float = 0.0


NO_FAULTS = FaultRates()


def _rates(values: dict[str, float]) -> FaultRates:
    return FaultRates(
        latency=values.get("latency", 0.0),
        rate_limited=values.get("429", 0.0),
        server_errors={code: values[str(code)] for code in (500, 502, 503) if str(code) in values},
        drop=values.get("drop", 0.0),
        malformed=values.get("malformed", 0.0),
        burst=max(1, int(values.get("burst", 1))),
        lost_reply=values.get("lost_reply", 0.0),
    )


def _parse_settings(settings: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in settings.split(","))):
        name, _, value = item.partition("=")
        if name not in KNOWN_FAULTS:
            raise ConfigError(f"unknown fault '{name}' (known: {', '.join(sorted(KNOWN_FAULTS))})", setting="faults")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"fault '{name}' needs a number, got '{value}'", setting="faults") from None
        if name not in ("latency", "burst") and not 0 <= number <= 1:
            raise ConfigError(f"fault '{name}' rate must be between 0 and 1", setting="faults")
        values[name] = number
    return values


def parse_faults(spec: str | None) -> dict[str, FaultRates]:
    """Parse a fault spec, each named system's faults merged over the `*` ones; errors name the wrong part."""
    parsed: dict[str, dict[str, float]] = {}
    if not spec:
        return {}
    for part in filter(None, (chunk.strip() for chunk in spec.split(";"))):
        if ":" not in part:
            raise ConfigError(f"fault spec part '{part}' must look like system:fault=rate", setting="faults")
        system, settings = part.split(":", 1)
        parsed.setdefault(system.strip(), {}).update(_parse_settings(settings))
    every = parsed.get(EVERY_SYSTEM, {})
    return {system: _rates({**every, **values}) for system, values in parsed.items()}


class FaultPlan:
    """Decides, reproducibly from a seed, which requests and records get a fault, and counts what it injected."""

    def __init__(self, rates: dict[str, FaultRates] | None = None, *, seed: int = 0) -> None:
        self.rates = rates or {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._burst_left: dict[str, int] = {}
        self.injected: Counter[tuple[str, str]] = Counter()
        """Faults injected so far, per (system, fault kind)."""

    @classmethod
    def from_spec(cls, spec: str | None, *, seed: int = 0) -> FaultPlan:
        return cls(parse_faults(spec), seed=seed)

    def for_system(self, system: str) -> FaultRates:
        return self.rates.get(system) or self.rates.get(EVERY_SYSTEM) or NO_FAULTS

    def _roll(self) -> float:
        with self._lock:
            return self._random.random()

    def _count(self, system: str, kind: str) -> None:
        with self._lock:
            self.injected[(system, kind)] += 1

    def request_fault(self, system: str) -> str | None:
        """The fault for the next request of `system`: '429', '500', '502', '503', 'drop' or None."""
        fault = self._request_fault(system)
        if fault is not None:
            self._count(system, fault)
        return fault

    def _request_fault(self, system: str) -> str | None:
        rates = self.for_system(system)
        with self._lock:
            left = self._burst_left.get(system, 0)
            if left > 0:
                self._burst_left[system] = left - 1
                return "429"
        if rates.drop and self._roll() < rates.drop:
            return "drop"
        if rates.rate_limited and self._roll() < rates.rate_limited:
            with self._lock:
                self._burst_left[system] = rates.burst - 1
            return "429"
        for code, rate in rates.server_errors.items():
            if self._roll() < rate:
                return str(code)
        return None

    def latency(self, system: str) -> float:
        delay = self.for_system(system).latency
        if delay:
            self._count(system, "latency")
        return delay

    def corrupt_record(self, system: str) -> bool:
        """Whether the next record served by `system` should be malformed."""
        rate = self.for_system(system).malformed
        corrupt = bool(rate) and self._roll() < rate
        if corrupt:
            self._count(system, "malformed")
        return corrupt

    def lose_reply(self, system: str) -> str | None:
        """Whether the answer to a write `system` just applied is lost: 'drop' (the connection breaks), '502'
        (a gateway error) or None (answered)."""
        rate = self.for_system(system).lost_reply
        if not rate or self._roll() >= rate:
            return None
        with self._lock:
            lost = sum(
                count for (name, kind), count in self.injected.items() if name == system and kind == "lost_reply"
            )
        self._count(system, "lost_reply")
        return "drop" if lost % 2 == 0 else "502"
