"""The mock's idea of "now": which IOCs are already in the feed and where look-back starts.

A fixed instant by default (the fixtures' reference instant), so that every run serves the
same rules; the wall clock on request (``--now real``). A :class:`MovingClock` (off by
default: ``--moving-clock`` or ``--clock-step``) wraps either and can be moved forward, so
the feed grows and a client's ``since=<last run>`` loop can be tested over several runs.
Rate limiting always uses real time.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from mockserver.errors import ConfigError
from mockserver.model import InvalidIOCError, parse_instant

#: The ``--now`` value that selects the wall clock.
REAL = "real"
_DURATION_PART: Final = re.compile(r"(\d+)([dhms])")
_UNITS: Final = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class Clock(Protocol):
    """Anything that tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant."""
        ...


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock stopped at one instant."""

    instant: datetime

    def now(self) -> datetime:
        """Return the fixed instant."""
        return self.instant


@dataclass(frozen=True, slots=True)
class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time, to the second."""
        return datetime.now(UTC).replace(microsecond=0)


class MovingClock:
    """A clock the operator moves: ``base`` plus an offset, changed under a lock.

    ``step`` (optional) is how far :meth:`tick` moves it; the app ticks after each answer of
    the Sigma endpoint, so every run of a client sees a later feed with no admin call.
    """

    def __init__(self, base: Clock, step: timedelta | None = None) -> None:
        """Start at ``base``'s instant, with offset zero."""
        self.base = base
        self.step = step
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the base instant plus the offset."""
        with self._lock:
            return self.base.now() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backwards: use :meth:`set` for that); the new now."""
        if delta < timedelta(0):
            raise ConfigError(f"a clock advances forwards, not by {delta}")
        with self._lock:
            self._offset += delta
            return self.base.now() + self._offset

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (an aware datetime, forwards or backwards); the new now."""
        if instant.tzinfo is None:
            raise ConfigError("the clock needs an instant with a time zone")
        with self._lock:
            self._offset = instant.astimezone(UTC) - self.base.now()
            return self.base.now() + self._offset

    def tick(self) -> None:
        """Advance by ``step`` if one is set."""
        if self.step is not None:
            self.advance(self.step)


def parse_duration(text: str) -> timedelta:
    """Parse ``7d``, ``12h``, ``30m``, ``45s`` or a sum such as ``1d12h`` into a timedelta."""
    spec = text.strip().lower()
    parts = _DURATION_PART.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise ConfigError(f"a duration looks like 7d, 12h, 30m, 45s or 1d12h, not {text!r}")
    total = timedelta(0)
    for number, unit in parts:
        if len(number) > 9:
            raise ConfigError(f"duration {text!r} is too long")
        total += timedelta(**{_UNITS[unit]: int(number)})
    return total


def format_duration(delta: timedelta) -> str:
    """Render a timedelta in :func:`parse_duration`'s notation (``1d12h``; ``0s`` for zero)."""
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out or "0s"


def parse_instant_utc(spec: str) -> datetime:
    """Parse an ISO 8601 instant (``Z`` allowed; no offset means UTC) into aware UTC.

    The fixtures' own parser, with its error turned into a configuration error.
    """
    try:
        return parse_instant(spec.strip())
    except InvalidIOCError as exc:
        raise ConfigError(
            f"expected an ISO 8601 instant (e.g. 2026-11-01T00:00:00Z), not {spec!r}"
        ) from exc


def parse_clock(spec: str | None, default: datetime) -> Clock:
    """Build the clock a ``--now`` value names: ``None`` → ``default``, ``real``, or an instant.

    An instant is ISO 8601; without an offset it is taken as UTC.
    """
    if spec is None or spec == "":
        return FixedClock(default)
    if spec.strip().lower() == REAL:
        return SystemClock()
    try:
        return FixedClock(parse_instant_utc(spec))
    except ConfigError as exc:
        raise ConfigError(
            f"--now must be an ISO 8601 instant (e.g. 2026-11-01T00:00:00Z) or 'real', not {spec!r}"
        ) from exc
