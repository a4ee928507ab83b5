"""Tests for the SDK's token-bucket RateLimiter, with a fake clock so nothing really sleeps."""

from __future__ import annotations

import threading
import time

import pytest

from canalis.sdk.errors import ConfigError
from canalis.sdk.ratelimit import RateLimiter


class FakeTime:
    """A thread-safe clock that only moves when something sleeps; records every sleep."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            now = self.now
        time.sleep(0)  # give other threads a chance to interleave, so missing locking shows up
        return now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        time.sleep(0)  # let other threads run


def limiter(fake: FakeTime, rate: float = 2.0, burst: int = 2) -> RateLimiter:
    return RateLimiter(rate, burst, clock=fake.clock, sleep=fake.sleep)


def test_burst_then_steady_pace():
    fake = FakeTime()
    bucket = limiter(fake, rate=2.0, burst=2)

    waits = [bucket.acquire() for _ in range(5)]

    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert fake.sleeps == [0.5, 0.5, 0.5]


def test_idle_time_refills_up_to_burst_only():
    fake = FakeTime()
    bucket = limiter(fake, rate=1.0, burst=3)
    for _ in range(3):
        bucket.acquire()

    fake.now += 100.0
    for _ in range(3):
        assert bucket.acquire() == 0.0

    assert bucket.acquire() == 1.0


def test_pause_until_holds_callers_then_resumes_one_at_a_time():
    fake = FakeTime()
    bucket = limiter(fake, rate=2.0, burst=5)

    bucket.pause_until(fake.now + 10.0)
    assert bucket.paused_until == 110.0

    assert bucket.acquire() == 10.0
    assert bucket.acquire() == 0.5
    assert bucket.paused_until is None


def test_pause_for_uses_the_limiter_clock():
    fake = FakeTime()
    bucket = limiter(fake)

    bucket.pause_for(3.0)

    assert bucket.acquire() == 3.0


def test_shorter_or_past_pauses_do_not_shorten_a_pause():
    fake = FakeTime()
    bucket = limiter(fake)

    bucket.pause_until(fake.now + 10.0)
    bucket.pause_until(fake.now + 2.0)
    bucket.pause_until(fake.now - 5.0)

    assert bucket.paused_until == 110.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bad_settings_raise_config_error(rate, burst):
    with pytest.raises(ConfigError):
        RateLimiter(rate, burst)


def test_threads_never_exceed_the_rate():
    fake = FakeTime()
    rate, burst = 10.0, 3
    bucket = limiter(fake, rate=rate, burst=burst)
    granted: list[float] = []
    granted_lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            bucket.acquire()
            with granted_lock:
                granted.append(fake.clock())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 200
    for count, at in enumerate(sorted(granted), start=1):
        assert count <= burst + rate * (at - 100.0) + 1e-6


def test_repr():
    assert repr(RateLimiter(5.0, 10)) == "RateLimiter(rate_per_second=5.0, burst=10)"
