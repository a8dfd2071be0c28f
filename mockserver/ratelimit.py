"""Per-key rolling rate limits (docs/contract.md §3), parsed by the ``limits`` library.

Each tier has several windows (per minute, per day). A request counts against every window
of its key, and only if all of them still have room. The ``X-RateLimit-*`` headers report
the *binding* window: the one with the fewest requests left (on a tie, the one that resets
last), with ``Reset`` the Unix second when that window next frees a request.

A request that presents no active key (none, an unknown, revoked or expired one) is counted
in an *anonymous* bucket of its client address, with its own limits (``anonymous`` in
:mod:`mockserver.config`), so its answer, a 401 included, carries headers that mean what they
say. Admin routes only :meth:`RateLimiter.peek` at the caller's bucket: they are the test
harness's, not the API's, and never use up or get refused by a window.

Storage is ``memory://`` (one process, counted by :mod:`mockserver.windows`) or any other
``limits`` storage URI such as ``redis://host:port`` (several processes or machines sharing the
counts). Keys are bucketed by fingerprint, never by the secret itself; anonymous buckets by
address. Rate limits run on real time, whatever the mock's data clock says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from mockserver.config import DEFAULT_ANONYMOUS_LIMITS, Tier
from mockserver.errors import ConfigError
from mockserver.sharedwindows import SharedWindows
from mockserver.windows import MemoryWindows, Window, WindowStats


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
    """Counts requests per key and tier, or per anonymous client address, in a moving window.

    ``memory://`` counts in this process with :class:`~mockserver.windows.MemoryWindows`
    (O(1) a request, bounded memory), or, once :meth:`share_between_processes` is called, in
    a SQLite file the worker processes of one server share; any other URI goes through a
    ``limits`` storage, which is what lets several servers or machines share one count
    (``redis://``).
    """

    def __init__(
        self,
        tiers: tuple[Tier, ...],
        storage_uri: str = "memory://",
        *,
        anonymous: str = DEFAULT_ANONYMOUS_LIMITS,
    ) -> None:
        """Parse every tier's limits and the anonymous ones, and connect to the storage."""
        from limits import parse_many

        self._items: dict[str, list[Any]] = {
            tier.name: parse_many(tier.rate_limits) for tier in tiers
        }
        self._items[ANONYMOUS_NAMESPACE] = parse_many(anonymous)
        self._windows: dict[str, list[Window]] = {
            name: [Window(int(item.amount), float(item.get_expiry())) for item in items]
            for name, items in self._items.items()
        }
        self._counts: MemoryWindows | SharedWindows | None = None
        self._limiter: Any = None
        if storage_uri.startswith("memory://"):
            self._counts = MemoryWindows()
        else:
            self._limiter = _limits_limiter(storage_uri)

    @property
    def per_process(self) -> bool:
        """Whether the counts live in this process alone (``memory://``, not yet shared)."""
        return isinstance(self._counts, MemoryWindows)

    def share_between_processes(self, path: Path) -> None:
        """Count in the SQLite file ``path`` from now on, so that forked workers share counts.

        Called by the parent before it forks (nothing counted yet); a shared storage such as
        ``redis://`` is left as it is.
        """
        if self.per_process:
            self._counts = SharedWindows(path)

    def close(self) -> None:
        """Let go of this process's connection to a shared file (before a fork)."""
        if isinstance(self._counts, SharedWindows):
            self._counts.close()

    def hit(self, fingerprint: str, tier: str) -> RateLimitStatus:
        """Count one request of the key ``fingerprint`` if every window has room."""
        return self._count(tier, fingerprint)

    def hit_anonymous(self, address: str) -> RateLimitStatus:
        """Count one request that has no active key, in its client address's bucket."""
        return self._count(ANONYMOUS_NAMESPACE, address)

    def peek(self, fingerprint: str | None, tier: str | None, address: str) -> RateLimitStatus:
        """The bucket's state, counting nothing: the key's (given one), else the address's."""
        if fingerprint is None or tier is None:
            return self._peek(ANONYMOUS_NAMESPACE, address)
        return self._peek(tier, fingerprint)

    def _count(self, namespace: str, identifier: str) -> RateLimitStatus:
        if self._counts is not None:
            windows = self._windows[namespace]
            allowed, stats = self._counts.hit((namespace, identifier), windows)
            return _binding(windows, stats, allowed=allowed)
        items = self._items[namespace]
        # ``hit`` is the storage's atomic test-and-count (a Lua script on Redis), so racing
        # requests, in threads or in other workers, can never both take a window's last slot:
        # ``test`` first would let them. Windows are counted shortest first and counting stops
        # at the first refusal; ``test`` up front keeps a request that a longer window will
        # refuse from using up the shorter ones in the common case.
        allowed = all(self._limiter.test(item, namespace, identifier) for item in items) and all(
            self._limiter.hit(item, namespace, identifier) for item in items
        )
        return self._limits_binding(namespace, identifier, allowed=allowed)

    def _peek(self, namespace: str, identifier: str) -> RateLimitStatus:
        if self._counts is not None:
            windows = self._windows[namespace]
            return _binding(windows, self._counts.stats((namespace, identifier), windows))
        return self._limits_binding(namespace, identifier, allowed=True)

    def _limits_binding(self, namespace: str, identifier: str, *, allowed: bool) -> RateLimitStatus:
        stats = []
        for item in self._items[namespace]:
            window = self._limiter.get_window_stats(item, namespace, identifier)
            stats.append(WindowStats(int(window.remaining), float(window.reset_time)))
        return _binding(self._windows[namespace], stats, allowed=allowed)


def _limits_limiter(storage_uri: str) -> Any:
    """A ``limits`` moving-window limiter on ``storage_uri``, checked reachable now."""
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
    return MovingWindowRateLimiter(storage)


def _binding(
    windows: list[Window], stats: list[WindowStats], *, allowed: bool = True
) -> RateLimitStatus:
    """The window with the fewest requests left (on a tie, the one that resets last)."""
    remaining, negative_reset, limit = min(
        (s.remaining, -s.reset, w.amount) for w, s in zip(windows, stats, strict=True)
    )
    return RateLimitStatus(
        allowed=allowed,
        limit=limit,
        remaining=max(0, remaining),
        reset=math.ceil(-negative_reset),
    )
