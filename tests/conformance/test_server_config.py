"""ServerConfig: one place for options, environment and defaults; keys never in its repr."""

from __future__ import annotations

import pytest

from conformance import contract
from conformance.findings import UsageError
from conformance.server.config import ServerConfig

KEY = "sk_live_0123456789abcdef9999"


def test_the_command_line_wins_over_the_environment() -> None:
    env = {"SOCDEFENDERS_BASE_URL": "http://env:1", "SOCDEFENDERS_API_KEY": "sk_live_env"}
    env["SOCDEFENDERS_MAX_REQUESTS"] = "7"
    config = ServerConfig.from_sources({"base_url": "http://cli:2", "api_key": KEY}, env)
    assert (config.base_url, config.api_key, config.max_requests) == ("http://cli:2", KEY, 7)


def test_the_environment_fills_lists_flags_and_numbers() -> None:
    env = {
        "SOCDEFENDERS_BASE_URL": "http://h:1",
        "SOCDEFENDERS_API_KEY": KEY,
        "SOCDEFENDERS_CHECK": "a_check, another",
        "SOCDEFENDERS_STRICT": "true",
        "SOCDEFENDERS_SEED": "42",
        "SOCDEFENDERS_TIMEOUT": "2.5",
    }
    config = ServerConfig.from_sources({}, env)
    assert config.include == ("a_check", "another")
    assert config.strict is True
    assert config.seed == 42
    assert config.timeout == 2.5


def test_a_seed_is_chosen_when_none_is_given() -> None:
    config = ServerConfig.from_sources({"base_url": "http://h:1", "api_key": KEY}, {})
    assert isinstance(config.seed, int)


def test_required_targets_are_the_documented_ones_plus_those_asked_for() -> None:
    options = {
        "base_url": "http://h:1",
        "api_key": KEY,
        "required_targets": ("kusto+sentinel_asim",),
    }
    config = ServerConfig.from_sources(options, {})
    assert config.required() == (*contract.REQUIRED_TARGETS, "kusto+sentinel_asim")


def test_keys_never_appear_in_the_repr() -> None:
    config = ServerConfig("http://h:1", KEY, free_key="sk_live_free_0123456789ab")
    assert KEY not in repr(config)
    assert "sk_live_free" not in repr(config)


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"api_key": KEY}, {}, "no base URL"),
        ({"base_url": "http://h:1"}, {}, "no API key"),
        ({"base_url": "h:1", "api_key": KEY}, {}, r"not an http\(s\) URL"),
        ({"base_url": "http://h:1", "api_key": KEY, "max_requests": 0}, {}, "at least 1"),
        ({"base_url": "http://h:1", "api_key": KEY}, {"SOCDEFENDERS_SEED": "x"}, "not a number"),
    ],
)
def test_bad_settings_are_usage_errors(
    options: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ServerConfig.from_sources(options, env)
