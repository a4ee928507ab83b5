"""Client-side rate limiting: a thread-safe token bucket that can also be paused when the server asks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from canalis.sdk.errors import ConfigError

_EPSILON = 1e-9  # float slack so a refill of exactly one token is not short by a rounding error
_REAL_SLEEP = time.sleep


def sleep_now(seconds: float) -> None:
    """`time.sleep`, looked up when called, so that a test replacing `time.sleep` also replaces the SDK's waits."""
    time.sleep(seconds)


class Pace:
    """One sleep shared by retries and a rate limiter; a sleep that does not really wait moves the limiter's clock.

    With the real `time.sleep` the clock is `time.monotonic`. With a replaced sleep (given here, or a test's
    replacement of `time.sleep`), the seconds it was asked to wait are added to the clock, so the rate limiter
    refills as if the time had passed and nobody spins.
    """

    def __init__(self, sleep: Callable[[float], None] | None = None) -> None:
        self._given = sleep
        self._slept = 0.0

    def sleep(self, seconds: float) -> None:
        """Wait (or pretend to wait) this long."""
        sleep = self._given or time.sleep
        sleep(seconds)
        if sleep is not _REAL_SLEEP:
            self._slept += seconds

    def clock(self) -> float:
        """Monotonic seconds, including the waits a replaced sleep only pretended."""
        return time.monotonic() + self._slept


class RateLimiter:
    """A token bucket shared by every thread calling one API.

    Tokens refill at `rate_per_second` up to `burst`; `acquire()` takes one token, sleeping until one
    is available. `pause_until(t)` holds every caller until clock time `t` (a server-told wait such as
    a 429's Retry-After); the bucket then restarts with a single token so calls resume one at a time.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = sleep_now,
    ) -> None:
        if rate_per_second <= 0:
            raise ConfigError(f"rate_per_second must be positive, got {rate_per_second}")
        if burst < 1:
            raise ConfigError(f"burst must be at least 1, got {burst}")
        self.rate_per_second = float(rate_per_second)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = float("-inf")

    def __repr__(self) -> str:
        return f"RateLimiter(rate_per_second={self.rate_per_second}, burst={self.burst})"

    @property
    def paused_until(self) -> float | None:
        """Clock time until which calls are held, or None when no pause is pending."""
        with self._lock:
            return self._paused_until if self._paused_until > self._clock() else None

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; return the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self._try_take()
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def pause_until(self, until: float) -> None:
        """Hold every caller until clock time `until`, then restart the bucket with one token."""
        with self._lock:
            if until <= self._paused_until or until <= self._clock():
                return
            self._paused_until = until
            self._tokens = 1.0
            self._updated = until

    def pause_for(self, seconds: float) -> None:
        """Hold every caller for `seconds` from now."""
        self.pause_until(self._clock() + seconds)

    def _try_take(self) -> float:
        """Take a token if one is free and return 0, else return how long to wait before trying again."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            if now > self._updated:
                self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate_per_second)
                self._updated = now
            if self._tokens >= 1.0 - _EPSILON:
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return (1.0 - self._tokens) / self.rate_per_second
