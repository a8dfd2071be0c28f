"""Moving-window request counts that several worker processes of one server share exactly.

``soc-mock serve`` with several workers keeps the ``memory://`` rate limits exact by counting
in one SQLite file (standard library, nothing to install or start) in a private temporary
directory: every hit is one ``BEGIN IMMEDIATE`` transaction, so two workers can never both
take a window's last request. The counts and their slots are those of
:class:`~mockserver.windows.MemoryWindows` (a window's length in at most ``SLOTS`` slots,
expired when a slot's end is a whole window ago), so one process and several agree on every
header. A running total per window keeps a hit O(1) amortised, whatever the window holds.

Each process opens its own connection on first use (a connection must not cross a ``fork``);
threads of one process take turns on it. Processes take turns with ``flock`` on a file beside
the database, not with SQLite's own locking: a busy SQLite connection *sleeps* before it tries
again (a millisecond or more at a time; two workers served about 12% more with ``flock`` in one
measurement), while a process waiting on ``flock`` wakes the moment the lock is free, and a
worker that dies frees it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from mockserver.windows import SWEEP_EVERY, Window, WindowStats

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS slots (
    bucket TEXT NOT NULL, win INTEGER NOT NULL, slot INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (bucket, win, slot)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
    bucket TEXT NOT NULL, win INTEGER NOT NULL, total INTEGER NOT NULL,
    oldest INTEGER, seconds REAL NOT NULL, slot_seconds REAL NOT NULL,
    PRIMARY KEY (bucket, win)
) WITHOUT ROWID;
"""
#: How long a worker waits for another's transaction before the request fails (a 500).
BUSY_TIMEOUT_SECONDS: Final = 10.0


class SharedWindows:
    """Exact moving windows in the SQLite file ``path``, shared by every process that opens it."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        """Create the file's tables (if new); connections are opened per process, when used."""
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._turns: int | None = None  # this process's descriptor of the lock file
        self._pid = 0
        self._hits = 0
        with self._lock:
            self._connect().executescript(SCHEMA)
            self.close()

    def hit(
        self, bucket: tuple[str, str], windows: Sequence[Window]
    ) -> tuple[bool, list[WindowStats]]:
        """Count one request in every window if each has room: (counted?, every window's state)."""
        return self._transaction(bucket, windows, count=True)

    def stats(self, bucket: tuple[str, str], windows: Sequence[Window]) -> list[WindowStats]:
        """Every window's state, counting nothing."""
        return self._transaction(bucket, windows, count=False)[1]

    def buckets(self) -> int:
        """How many (bucket, window) counters the file holds (for tests of the sweep)."""
        with self._lock:
            row = self._connect().execute("SELECT COUNT(*) FROM totals").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this process's connection (the parent does, before it forks its workers)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._turns is not None:
            os.close(self._turns)
            self._turns = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            # After a fork the inherited connection and descriptor are the parent's: a flock on
            # an inherited descriptor would be shared with the parent, not exclusive.
            self._turns = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            self._connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions are begun and ended here, explicitly
                check_same_thread=False,  # threads take turns under self._lock
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=OFF")  # counts need not survive a crash
            self._pid = os.getpid()
        return self._connection

    def _transaction(
        self, bucket: tuple[str, str], windows: Sequence[Window], *, count: bool
    ) -> tuple[bool, list[WindowStats]]:
        name = "\0".join(bucket)
        with self._lock:
            db = self._connect()
            assert self._turns is not None
            fcntl.flock(self._turns, fcntl.LOCK_EX)
            try:
                db.execute("BEGIN IMMEDIATE")
                now = self._clock()
                state = [_expire(db, name, index, w, now) for index, w in enumerate(windows)]
                allowed = count and all(
                    total < w.amount for (total, _), w in zip(state, windows, strict=True)
                )
                if allowed:
                    state = [
                        _add(db, name, index, w, now, total, oldest)
                        for index, (w, (total, oldest)) in enumerate(
                            zip(windows, state, strict=True)
                        )
                    ]
                    self._hits += 1
                    if self._hits % SWEEP_EVERY == 0:
                        _sweep(db, now)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:  # whatever happened, the other workers get their turn
                fcntl.flock(self._turns, fcntl.LOCK_UN)
        stats = [
            WindowStats(remaining=w.amount - total, reset=w.reset(oldest, now))
            for w, (total, oldest) in zip(windows, state, strict=True)
        ]
        return allowed or not count, stats


def _expire(
    db: sqlite3.Connection, name: str, index: int, window: Window, now: float
) -> tuple[int, int | None]:
    """Drop the window's slots that have left it; its total and oldest slot after that."""
    row = db.execute(
        "SELECT total, oldest FROM totals WHERE bucket = ? AND win = ?", (name, index)
    ).fetchone()
    if row is None:
        return 0, None
    total, oldest = row
    cutoff = window.cutoff(now)
    if oldest is None or oldest > cutoff:  # the common case: nothing has left the window
        return total, oldest
    gone = db.execute(
        "DELETE FROM slots WHERE bucket = ? AND win = ? AND slot <= ? RETURNING n",
        (name, index, cutoff),
    ).fetchall()
    total -= sum(n for (n,) in gone)
    oldest = db.execute(
        "SELECT MIN(slot) FROM slots WHERE bucket = ? AND win = ?", (name, index)
    ).fetchone()[0]
    db.execute(
        "UPDATE totals SET total = ?, oldest = ? WHERE bucket = ? AND win = ?",
        (total, oldest, name, index),
    )
    return total, oldest


def _add(
    db: sqlite3.Connection,
    name: str,
    index: int,
    window: Window,
    now: float,
    total: int,
    oldest: int | None,
) -> tuple[int, int | None]:
    """Count one request in the window; its new total and oldest slot."""
    slot = window.slot(now)
    oldest = slot if oldest is None else oldest
    db.execute(
        "INSERT INTO slots VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
        (name, index, slot),
    )
    db.execute(
        "INSERT INTO totals VALUES (?, ?, 1, ?, ?, ?) "
        "ON CONFLICT DO UPDATE SET total = total + 1, oldest = excluded.oldest",
        (name, index, oldest, window.seconds, window.slot_seconds),
    )
    return total + 1, oldest


def _sweep(db: sqlite3.Connection, now: float) -> None:
    """Expire every bucket's slots and forget the buckets left empty (clients gone away)."""
    db.execute(
        "DELETE FROM slots WHERE slot <= (SELECT (? - t.seconds) / t.slot_seconds - 1 "
        "FROM totals AS t WHERE t.bucket = slots.bucket AND t.win = slots.win)",
        (now,),
    )
    db.execute(
        "UPDATE totals SET (total, oldest) = (SELECT COALESCE(SUM(n), 0), MIN(slot) FROM slots "
        "WHERE slots.bucket = totals.bucket AND slots.win = totals.win)"
    )
    db.execute("DELETE FROM totals WHERE total = 0")
