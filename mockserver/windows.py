"""Moving-window request counts kept in this process (the ``memory://`` rate-limit storage).

Why not ``limits``' own memory storage: it keeps one entry per request and prepends each new
one to a list, so a hit costs time proportional to the requests already in the window. With the
limits a load test sets (millions a minute) a hit went from 60 µs to 170 µs within 120,000
requests, and memory grew by one object per request for a whole day window. Here a window
keeps *counts per time slot* in a deque: a hit and the expiry of old slots cost O(1) amortised,
and a window holds at most :data:`SLOTS` slots whatever its limit.

Counts are exact: a window never lets more than its limit through in any span of its length.
Only *when* a request leaves its window is rounded, upwards, to the end of its slot (6 ms for a
minute, 8.6 s for a day: a window's length / :data:`SLOTS`, at least 1 ms), so a window frees a
request at most one slot late, never early. ``redis://`` storage keeps using ``limits``
(:mod:`mockserver.ratelimit`), which is what shares counts between processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

#: Most time slots one window keeps (its length divided into this many, at least 1 ms each).
SLOTS: Final = 10_000
MIN_SLOT_SECONDS: Final = 0.001
#: Hits between two sweeps of windows nobody has used for longer than their length.
SWEEP_EVERY: Final = 10_000


@dataclass(frozen=True, slots=True)
class Window:
    """One limit: ``amount`` requests per ``seconds``, counted in slots of ``slot_seconds``."""

    amount: int
    seconds: float

    @property
    def slot_seconds(self) -> float:
        """The length of one slot: the window's / :data:`SLOTS`, at least 1 ms."""
        return max(MIN_SLOT_SECONDS, self.seconds / SLOTS)

    def slot(self, now: float) -> int:
        """The slot a request made at ``now`` is counted in."""
        return int(now / self.slot_seconds)

    def cutoff(self, now: float) -> float:
        """Slots at or below this have left the window at ``now``.

        A slot leaves when its *end* is a whole window ago: late by under one slot, never early.
        """
        return (now - self.seconds) / self.slot_seconds - 1

    def reset(self, oldest: int | None, now: float) -> float:
        """When the window next frees a request, its oldest slot being ``oldest`` (or none)."""
        if oldest is None:
            return now + self.seconds
        return (oldest + 1) * self.slot_seconds + self.seconds


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A window's state for the headers: requests left and when the oldest one leaves it."""

    remaining: int
    reset: float


class _Counts:
    """One bucket's requests in one window: ``[slot, count]`` pairs, oldest first."""

    __slots__ = ("slots", "total", "window")

    def __init__(self, window: Window) -> None:
        self.slots: deque[list[int]] = deque()
        self.total = 0
        self.window = window

    def expire(self, now: float) -> None:
        cutoff = self.window.cutoff(now)
        slots = self.slots
        while slots and slots[0][0] <= cutoff:
            self.total -= slots.popleft()[1]

    def add(self, now: float) -> None:
        slot = self.window.slot(now)
        if self.slots and self.slots[-1][0] == slot:
            self.slots[-1][1] += 1
        else:
            self.slots.append([slot, 1])
        self.total += 1

    def reset(self, now: float) -> float:
        return self.window.reset(self.slots[0][0] if self.slots else None, now)


class MemoryWindows:
    """Exact moving windows for many buckets, safe to call from several threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """Start with no requests counted; ``clock`` gives the time (Unix seconds)."""
        self._clock = clock
        self._counts: dict[tuple[str, str, int], _Counts] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def hit(
        self, bucket: tuple[str, str], windows: Sequence[Window]
    ) -> tuple[bool, list[WindowStats]]:
        """Count one request in every window if each has room: (counted?, every window's state).

        Test and count happen under one lock, so racing threads never both take a last slot,
        and a request one window refuses uses up none of the others.
        """
        with self._lock:
            now = self._clock()
            counts = [self._get(bucket, index, window, now) for index, window in enumerate(windows)]
            allowed = all(c.total < w.amount for c, w in zip(counts, windows, strict=True))
            if allowed:
                for c in counts:
                    c.add(now)
                self._hits += 1
                if self._hits % SWEEP_EVERY == 0:
                    self._sweep(now)
            return allowed, self._stats(counts, windows, now)

    def stats(self, bucket: tuple[str, str], windows: Sequence[Window]) -> list[WindowStats]:
        """Every window's state, counting nothing."""
        with self._lock:
            now = self._clock()
            counts = [self._get(bucket, index, window, now) for index, window in enumerate(windows)]
            return self._stats(counts, windows, now)

    def _get(self, bucket: tuple[str, str], index: int, window: Window, now: float) -> _Counts:
        key = (*bucket, index)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = _Counts(window)
        else:
            counts.expire(now)
        return counts

    @staticmethod
    def _stats(counts: list[_Counts], windows: Sequence[Window], now: float) -> list[WindowStats]:
        return [
            WindowStats(remaining=w.amount - c.total, reset=c.reset(now))
            for c, w in zip(counts, windows, strict=True)
        ]

    def _sweep(self, now: float) -> None:
        # Buckets of clients that went away (anonymous addresses, revoked keys) do not pile up.
        idle = []
        for key, counts in self._counts.items():
            counts.expire(now)
            if counts.total == 0:
                idle.append(key)
        for key in idle:
            del self._counts[key]

    def __len__(self) -> int:
        """How many (bucket, window) counters are held (for tests of the sweep)."""
        return len(self._counts)
