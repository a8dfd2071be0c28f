"""Rate-limit windows and headers; configuration precedence (CLI > env > default)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mockserver.config import DEFAULT_TIERS, MockConfig, apply_rate_limits
from mockserver.errors import ConfigError
from mockserver.ratelimit import RateLimiter


def test_binding_window_and_429_without_counting() -> None:
    tiers = apply_rate_limits(DEFAULT_TIERS, ["pro=3/minute;5/day"])
    limiter = RateLimiter(tiers)
    statuses = [limiter.hit("k1", "pro") for _ in range(4)]
    assert [s.allowed for s in statuses] == [True, True, True, False]
    assert [s.remaining for s in statuses] == [2, 1, 0, 0]
    assert {s.limit for s in statuses} == {3}
    assert all(s.reset >= time.time() for s in statuses)
    assert statuses[0].headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": str(statuses[0].reset),
    }
    # Another key has its own budget.
    assert limiter.hit("k2", "pro").remaining == 2


def test_daily_window_binds_when_it_has_fewer_left() -> None:
    tiers = apply_rate_limits(DEFAULT_TIERS, ["free=10/minute;2/day"])
    limiter = RateLimiter(tiers)
    first = limiter.hit("k", "free")
    assert (first.limit, first.remaining) == (2, 1)


def test_bad_storage_uri() -> None:
    with pytest.raises(ConfigError, match="storage"):
        RateLimiter(DEFAULT_TIERS, "nosuch://")


@pytest.mark.parametrize("spec", ["gold=1/minute", "pro", "pro=often", "pro="])
def test_bad_rate_limit_specs(spec: str) -> None:
    with pytest.raises(ConfigError):
        apply_rate_limits(DEFAULT_TIERS, [spec])


def test_defaults_follow_the_contract() -> None:
    config = MockConfig()
    assert (config.host, config.port, config.now, config.fixtures) == (
        "127.0.0.1",
        8000,
        None,
        None,
    )
    pro, free = config.tier("pro"), config.tier("free")
    assert (pro.rate_limits, pro.max_results, pro.lookback_days, pro.sigma_access) == (
        "1000/minute;1000000/day",
        10_000,
        365,
        True,
    )
    assert (free.rate_limits, free.max_results, free.lookback_days, free.sigma_access) == (
        "10/minute;1000/day",
        100,
        1,
        False,
    )
    with pytest.raises(ConfigError):
        config.tier("gold")


def test_precedence_cli_over_env_over_default() -> None:
    env = {
        "SOCMOCK_PORT": "9000",
        "SOCMOCK_HOST": "127.0.0.2",
        "SOCMOCK_NOW": "real",
        "SOCMOCK_RATE_LIMIT": "pro=5/minute,free=1/minute",
        "SOCMOCK_FIXTURES": "/env/iocs.json",
    }
    from_env = MockConfig.from_sources({}, env)
    assert (from_env.port, from_env.host, from_env.now) == (9000, "127.0.0.2", "real")
    assert from_env.fixtures == Path("/env/iocs.json")
    assert from_env.tier("pro").rate_limits == "5/minute"
    assert from_env.tier("free").rate_limits == "1/minute"
    cli = MockConfig.from_sources(
        {"port": 1234, "host": None, "rate_limit": ("pro=7/minute",), "fixtures": "/cli.json"}, env
    )
    assert (cli.port, cli.host) == (1234, "127.0.0.2")
    assert cli.tier("pro").rate_limits == "7/minute"
    assert cli.tier("free").rate_limits == "10/minute;1000/day"  # env is not merged into CLI
    assert cli.fixtures == Path("/cli.json")


@pytest.mark.parametrize("port", ["http", "-1", "70000"])
def test_bad_port(port: str) -> None:
    with pytest.raises(ConfigError, match="port"):
        MockConfig.from_sources(env={"SOCMOCK_PORT": port})
