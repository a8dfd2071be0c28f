"""Per-key rolling rate limits (docs/contract.md §3), kept by the ``limits`` library.

Each tier has several windows (per minute, per day). A request counts against every window
of its key, and only if all of them still have room. The ``X-RateLimit-*`` headers report
the *binding* window: the one with the fewest requests left (on a tie, the one that resets
last), with ``Reset`` the Unix second when that window next frees a request.

A request that presents no active key (none, an unknown, revoked or expired one) is counted
in an *anonymous* bucket of its client address, with its own limits (``anonymous`` in
:mod:`mockserver.config`), so its answer, a 401 included, carries headers that mean what they
say. Admin routes only :meth:`RateLimiter.peek` at the caller's bucket: they are the test
harness's, not the API's, and never use up or get refused by a window.

Storage is any ``limits`` storage URI: ``memory://`` (one process) or ``redis://host:port``
(several gunicorn workers sharing the counts). Keys are bucketed by fingerprint, never by
the secret itself; anonymous buckets by address. Rate limits run on real time, whatever the
mock's data clock says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from mockserver.config import DEFAULT_ANONYMOUS_LIMITS, Tier
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


#: The namespace of the anonymous buckets (not a tier name: tiers are named in the config).
ANONYMOUS_NAMESPACE: Final = "(anonymous)"


class RateLimiter:
    """Counts requests per key and tier, or per anonymous client address, in a moving window."""

    def __init__(
        self,
        tiers: tuple[Tier, ...],
        storage_uri: str = "memory://",
        *,
        anonymous: str = DEFAULT_ANONYMOUS_LIMITS,
    ) -> None:
        """Parse every tier's limits and the anonymous ones, and connect to the storage."""
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
        self._items[ANONYMOUS_NAMESPACE] = parse_many(anonymous)

    def hit(self, fingerprint: str, tier: str) -> RateLimitStatus:
        """Count one request of the key ``fingerprint`` if every window has room."""
        return self._count(tier, fingerprint)

    def hit_anonymous(self, address: str) -> RateLimitStatus:
        """Count one request that has no active key, in its client address's bucket."""
        return self._count(ANONYMOUS_NAMESPACE, address)

    def peek(self, fingerprint: str | None, tier: str | None, address: str) -> RateLimitStatus:
        """The bucket's state, counting nothing: the key's (given one), else the address's."""
        if fingerprint is None or tier is None:
            return self._binding(ANONYMOUS_NAMESPACE, address, allowed=True)
        return self._binding(tier, fingerprint, allowed=True)

    def _count(self, namespace: str, identifier: str) -> RateLimitStatus:
        items = self._items[namespace]
        # ``hit`` is the storage's atomic test-and-count (a Lua script on Redis), so racing
        # requests, in threads or in other workers, can never both take a window's last slot:
        # ``test`` first would let them. Windows are counted shortest first and counting stops
        # at the first refusal; ``test`` up front keeps a request that a longer window will
        # refuse from using up the shorter ones in the common case.
        allowed = all(self._limiter.test(item, namespace, identifier) for item in items) and all(
            self._limiter.hit(item, namespace, identifier) for item in items
        )
        return self._binding(namespace, identifier, allowed=allowed)

    def _binding(self, namespace: str, identifier: str, *, allowed: bool) -> RateLimitStatus:
        """The window with the fewest requests left (on a tie, the one that resets last)."""
        binding: tuple[int, float, int] | None = None
        for item in self._items[namespace]:
            stats = self._limiter.get_window_stats(item, namespace, identifier)
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
