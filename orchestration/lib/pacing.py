"""Auto-pay calls paced under the payment provider's rate limit.

Stripe answers HTTP 429 past its limits (25 requests/s per endpoint by default in live mode,
100/s per account; 25/s in a sandbox). A charge that meets a 429 is not made, but the
charging code records the attempt before the call, so a 429 would freeze that invoice until
it is reconciled. The charge step therefore never asks faster than the configured pace: one
token bucket per gateway, every call to the provider takes a token first. The charge step
claims the warehouse pool (one at a time per Dagster instance), so within a deployment the
pace is the account's; regions sharing one account split it (docs/deploy.md, "Auto-pay at
scale")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

DEFAULT_REQUESTS_PER_SECOND = 20.0


class RateLimiter:
    """A token bucket: at most `rate` calls a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, not {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting for it if none is left; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


class PacedGateway:
    """The gateway the charging code is given: the same methods, each call taking a token
    first, whatever the methods are (charge, lookups, refunds ...)."""

    def __init__(self, gateway: Any, limiter: RateLimiter):
        self._gateway = gateway
        self.limiter = limiter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._gateway, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def paced(*args, **kwargs):
            self.limiter.acquire()
            return attribute(*args, **kwargs)

        return paced
