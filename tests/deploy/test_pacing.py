"""Auto-pay pacing (orchestration/lib/pacing.py): the token bucket keeps the average pace and
the burst, and the gateway the charge step gets paces every provider call."""

from __future__ import annotations

import pytest

from orchestration.lib.pacing import PacedGateway, RateLimiter


class ManualClock:
    """Time that moves only when the limiter sleeps."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_bucket_keeps_the_pace_after_its_burst():
    clock = ManualClock()
    limiter = RateLimiter(10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(65):
        limiter.acquire()
    assert len(clock.slept) == 60  # the burst of 5 goes at once, every later call waits
    # 60 more calls at 10 a second: 6 seconds, never faster
    assert clock.now - 100.0 == pytest.approx(6.0)
    assert all(wait == pytest.approx(0.1) for wait in clock.slept)


def test_idle_time_refills_the_bucket_up_to_the_burst_only():
    clock = ManualClock()
    limiter = RateLimiter(2, burst=2, clock=clock, sleep=clock.sleep)
    limiter.acquire(), limiter.acquire()
    clock.now += 60  # a minute idle earns 2 tokens, not 120
    for _ in range(4):
        limiter.acquire()
    assert sum(clock.slept) == pytest.approx(1.0)


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_every_provider_call_takes_a_token_and_answers_unchanged():
    class Provider:
        region = "eu"

        def __init__(self):
            self.calls = []

        def charge(self, **kwargs):
            self.calls.append(("charge", kwargs))
            return "ch_1"

        def find_by_key(self, key):
            self.calls.append(("find", key))
            return None

    clock = ManualClock()
    provider = Provider()
    gateway = PacedGateway(provider, RateLimiter(4, burst=1, clock=clock, sleep=clock.sleep))
    assert gateway.charge(amount_minor=100, key="k") == "ch_1"
    assert gateway.find_by_key("k") is None
    gateway.charge(amount_minor=5, key="j")
    assert provider.calls == [("charge", {"amount_minor": 100, "key": "k"}), ("find", "k"),
                              ("charge", {"amount_minor": 5, "key": "j"})]
    assert clock.slept == [pytest.approx(0.25), pytest.approx(0.25)]
    assert gateway.region == "eu"  # plain attributes pass through without a token


def test_the_stripe_resource_hands_out_a_paced_gateway(monkeypatch):
    from orchestration.lib.resources import StripeResource

    monkeypatch.setenv("VIGIL_PAYMENTS", "local")
    gateway = StripeResource(api_base="http://127.0.0.1:9", requests_per_second=7).gateway()
    assert isinstance(gateway, PacedGateway) and gateway.limiter.rate == 7
    monkeypatch.setenv("VIGIL_PAYMENTS", "off")
    assert StripeResource().gateway() is None
