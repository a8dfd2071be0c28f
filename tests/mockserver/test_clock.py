"""The moving clock: durations, advancing and setting under a lock, and how config builds it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.clock import (
    FixedClock,
    MovingClock,
    format_duration,
    parse_clock,
    parse_duration,
)
from mockserver.config import MockConfig
from mockserver.errors import ConfigError

START = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 2D ", timedelta(days=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "7", "d", "7w", "-1d", "1.5d", "7d x", "1d-2h", "9999999999d"]
)
def test_bad_durations_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=10**7))
def test_format_duration_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


def test_moving_clock_advances_sets_and_ticks() -> None:
    clock = MovingClock(FixedClock(START), step=timedelta(days=1))
    assert clock.now() == START
    assert clock.advance(timedelta(days=7)) == START + timedelta(days=7)
    clock.tick()
    assert clock.now() == START + timedelta(days=8)
    assert clock.set(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match="forwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ConfigError, match="time zone"):
        clock.set(datetime(2026, 1, 1))  # naive on purpose
    MovingClock(FixedClock(START)).tick()  # no step: ticking does nothing


def test_moving_clock_loses_no_advance_under_threads() -> None:
    clock = MovingClock(FixedClock(START))

    def advance() -> None:
        for _ in range(200):
            clock.advance(timedelta(seconds=1))

    threads = [threading.Thread(target=advance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == START + timedelta(seconds=800)


def test_parse_clock_keeps_its_old_forms() -> None:
    assert parse_clock(None, START).now() == START
    assert parse_clock("2026-01-02T03:04:05", START).now() == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="--now"):
        parse_clock("someday", START)


def test_config_builds_the_moving_clock_from_options_and_env() -> None:
    assert MockConfig.from_sources({}, {}).moving_clock is False
    assert MockConfig.from_sources({"moving_clock": True}, {}).moving_clock is True
    stepped = MockConfig.from_sources({"clock_step": "1d"}, {})
    assert (stepped.moving_clock, stepped.clock_step) == (True, timedelta(days=1))
    env = {"SOCMOCK_MOVING_CLOCK": "yes", "SOCMOCK_CLOCK_STEP": "6h"}
    from_env = MockConfig.from_sources({}, env)
    assert (from_env.moving_clock, from_env.clock_step) == (True, timedelta(hours=6))
    assert MockConfig.from_sources({"clock_step": "2d"}, env).clock_step == timedelta(days=2)
    assert MockConfig.from_sources({}, {"SOCMOCK_MOVING_CLOCK": "0"}).moving_clock is False
    with pytest.raises(ConfigError, match="SOCMOCK_MOVING_CLOCK"):
        MockConfig.from_sources({}, {"SOCMOCK_MOVING_CLOCK": "maybe"})
    with pytest.raises(ConfigError, match="duration"):
        MockConfig.from_sources({"clock_step": "soon"}, {})
