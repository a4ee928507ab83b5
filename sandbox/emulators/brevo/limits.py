"""Brevo-style rate limiting: a fixed window per API key, reported in `x-sib-ratelimit-*` headers."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowState:
    """Where one key stands in the current window."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The headers Brevo sends on rate-limited endpoints (reset in seconds)."""
        return {
            "x-sib-ratelimit-limit": str(self.limit),
            "x-sib-ratelimit-remaining": str(self.remaining),
            "x-sib-ratelimit-reset": str(self.reset_seconds),
        }


class FixedWindowLimiter:
    """Counts requests per key in fixed windows; the request over the limit is refused until the window ends."""

    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> WindowState:
        """Count one request for the key and say whether it is allowed."""
        now = self._clock()
        with self._lock:
            started, used = self._windows.get(key, (now, 0))
            if now - started >= self.window_seconds:
                started, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[key] = (started, used)
        reset = max(1, math.ceil(started + self.window_seconds - now))
        return WindowState(allowed, self.limit, max(0, self.limit - used), reset)
