"""The mock's idea of "now": which IOCs are already in the feed and where look-back starts.

A fixed instant by default (the fixtures' reference instant), so that every run serves the
same rules; the wall clock on request (``--now real``). Rate limiting always uses real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from mockserver.errors import ConfigError

#: The ``--now`` value that selects the wall clock.
REAL = "real"


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


def parse_clock(spec: str | None, default: datetime) -> Clock:
    """Build the clock a ``--now`` value names: ``None`` → ``default``, ``real``, or an instant.

    An instant is ISO 8601; without an offset it is taken as UTC.
    """
    if spec is None or spec == "":
        return FixedClock(default)
    if spec.strip().lower() == REAL:
        return SystemClock()
    try:
        parsed = datetime.fromisoformat(spec.strip())
    except ValueError as exc:
        raise ConfigError(
            f"--now must be an ISO 8601 instant (e.g. 2026-11-01T00:00:00Z) or 'real', not {spec!r}"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return FixedClock(parsed.astimezone(UTC))
