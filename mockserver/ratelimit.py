"""Per-key rolling rate limits (CONTRACT.md §3), kept by the ``limits`` library.

Each tier has several windows (per minute, per day). A request counts against every window
of its key, and only if all of them still have room. The ``X-RateLimit-*`` headers report
the *binding* window: the one with the fewest requests left (on a tie, the one that resets
last), with ``Reset`` the Unix second when that window next frees a request.

Storage is any ``limits`` storage URI: ``memory://`` (one process) or ``redis://host:port``
(several gunicorn workers sharing the counts). Keys are bucketed by fingerprint, never by
the secret itself. Rate limits run on real time, whatever the mock's data clock says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mockserver.config import Tier
from mockserver.errors import ConfigError


def redact_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (``redis://:***@host:6379``)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redact(text: str) -> str:
    """``text`` with the password of every URI in it redacted."""
    return re.sub(r"[a-z+]+://[^\s'\"]+", lambda m: redact_uri(m.group(0)), text)


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The outcome of counting one request: allowed or not, and the header values."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` response headers."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Counts requests per key and tier in a moving window."""

    def __init__(self, tiers: tuple[Tier, ...], storage_uri: str = "memory://") -> None:
        """Parse every tier's limits and connect to the storage."""
        from limits import parse_many
        from limits.errors import ConfigurationError
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        shown = redact_uri(storage_uri)
        try:
            storage = storage_from_string(storage_uri)
        except ConfigurationError as exc:
            raise ConfigError(f"rate-limit storage {shown!r}: {redact(str(exc))}") from exc
        # Checked now: an unreachable Redis would otherwise turn every request into a 500.
        if not storage.check():
            where = urlsplit(storage_uri).netloc.rpartition("@")[2] or storage_uri
            raise ConfigError(f"rate-limit storage {shown!r}: no answer from {where}")
        self._limiter: Any = MovingWindowRateLimiter(storage)
        self._items: dict[str, list[Any]] = {
            tier.name: parse_many(tier.rate_limits) for tier in tiers
        }

    def hit(self, fingerprint: str, tier: str) -> RateLimitStatus:
        """Count one request of the key ``fingerprint`` if every window has room."""
        items = self._items[tier]
        # ``hit`` is the storage's atomic test-and-count (a Lua script on Redis), so racing
        # requests, in threads or in other workers, can never both take a window's last slot:
        # ``test`` first would let them. Windows are counted shortest first and counting stops
        # at the first refusal; ``test`` up front keeps a request that a longer window will
        # refuse from using up the shorter ones in the common case.
        allowed = all(self._limiter.test(item, tier, fingerprint) for item in items) and all(
            self._limiter.hit(item, tier, fingerprint) for item in items
        )
        binding: tuple[int, float, int] | None = None
        for item in items:
            stats = self._limiter.get_window_stats(item, tier, fingerprint)
            candidate = (int(stats.remaining), -float(stats.reset_time), int(item.amount))
            if binding is None or candidate < binding:
                binding = candidate
        assert binding is not None  # parse_many never returns an empty list for a tier
        remaining, negative_reset, limit = binding
        return RateLimitStatus(
            allowed=allowed,
            limit=limit,
            remaining=max(0, remaining),
            reset=math.ceil(-negative_reset),
        )
