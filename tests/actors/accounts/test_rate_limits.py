"""Rate limits: the token bucket, and the per-IP and per-user limits of the service."""

from __future__ import annotations

import pytest

from actors.accounts.rate_limits import RateLimiter
from dendray.config import RateLimitConfig
from protocol.errors import MatrixError
from tests.actors.accounts.helpers import make_config, unique


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(per_second=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(MatrixError) as e:
        limiter.check("a")
    assert (e.value.status, e.value.errcode) == (429, "M_LIMIT_EXCEEDED")
    assert e.value.extra["retry_after_ms"] == 500
    limiter.check("b")  # other keys have their own bucket
    clock.now += 0.5
    limiter.check("a")
    with pytest.raises(MatrixError):
        limiter.check("a")
    clock.now += 60
    for _ in range(3):
        limiter.check("a")


async def test_service_limits_ips_and_users(build) -> None:
    config = make_config()
    config.rate_limits = RateLimitConfig(enabled=True, per_second=0.001, burst=3,
                                         ip_per_second=0.001, ip_burst=2)
    accounts = await build(config)
    ip = "203.0.113.9"
    await accounts.call(ip, "username_available", ip, unique())
    await accounts.call(ip, "username_available", ip, unique())
    with pytest.raises(MatrixError) as e:
        await accounts.call(ip, "username_available", ip, unique())
    assert e.value.errcode == "M_LIMIT_EXCEEDED" and e.value.extra["retry_after_ms"] > 0
    other_ip = "203.0.113.10"
    user = await accounts.call(other_ip, "register", other_ip, "user", {
        "username": unique(), "auth": {"type": "m.login.dummy"}})
    token, user_id = user["access_token"], user["user_id"]
    for _ in range(3):
        await accounts.call(user_id, "authenticate", token, ip, True)
    # Requests that are not rate-limited pass; limited ones do not.
    await accounts.call(user_id, "authenticate", token, ip, False)
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "authenticate", token, ip, True)
    assert e.value.status == 429


async def test_no_limits_when_disabled(accounts) -> None:
    ip = "203.0.113.11"
    for _ in range(100):
        await accounts.call(ip, "username_available", ip, unique())
