"""``soc-mock serve`` on several worker processes, forked from the process that built the app.

Why: the app holds the GIL for most of a request, so one process answers on one core at a
time (docs/benchmarks.md has the figures). How: the parent builds and checks the app, binds the
socket and prints the banner; then it forks the workers, each running its own
:class:`~mockserver.serving.GranianServer` (and access log) on the inherited socket, and the
kernel hands each connection to one of them. A forked worker starts at once and shares the
parent's fixtures until it writes to them. The parent only supervises: it replaces a worker
that dies, and on SIGINT or SIGTERM stops them all.

What the workers share: the socket, and the rate-limit counts (``memory://`` becomes one SQLite
file, :mod:`mockserver.sharedwindows`; ``redis://`` is shared already), so limits stay exact.
What they would not share, and why the mock then runs one process
(:func:`single_process_reason`): a moving clock, the admin routes' request journal, and faults
(their caps, bursts and seeded dice).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from mockserver.errors import redact
from mockserver.serving import AccessLog, GranianServer, ServerError, listen

if TYPE_CHECKING:
    import socket

    from _typeshed.wsgi import WSGIApplication

    from mockserver.config import MockConfig
    from mockserver.ratelimit import RateLimiter

#: Default workers: one per CPU this process may use but one, at most this many (memory grows
#: with each worker).
MAX_DEFAULT_WORKERS: Final = 4
#: A worker that dies sooner than this after starting counts towards giving up.
EARLY_DEATH_SECONDS: Final = 2.0
#: Early deaths in a row after which the pool stops instead of forking again.
EARLY_DEATHS_TO_GIVE_UP: Final = 3
STOP_GRACE_SECONDS: Final = 10.0
POLL_SECONDS: Final = 0.2


def default_workers() -> int:
    """One worker per CPU this process may use but one, at least 1, at most 4.

    A mock on loopback always shares its machine with the client under test (or the load
    generator): a worker on every CPU would compete with it, and on two CPUs a second worker
    made the 100-rule answer at concurrency 16 no faster (docs/benchmarks.md), while sharing
    the counts costs every request a transaction.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus - 1, MAX_DEFAULT_WORKERS))


def single_process_reason(config: MockConfig) -> str | None:
    """What in ``config`` keeps state in one process (so one worker serves), or None."""
    if config.clock_moves:
        return "a moving clock"
    if config.admin_routes:
        return "the admin routes (their request journal)"
    if config.faults.enabled:
        return "faults (their caps, bursts and dice)"
    return None


@dataclass
class WorkerPool:
    """Fork ``workers`` processes serving ``app`` on ``host:port``; supervise, then stop them."""

    app: WSGIApplication
    limiter: RateLimiter
    host: str = "127.0.0.1"
    port: int = 0
    workers: int = 2
    threads: int = 8
    access_log: bool = True
    _socket: socket.socket | None = field(default=None, init=False)
    _pids: dict[int, tuple[int, float]] = field(
        default_factory=dict, init=False
    )  # pid: (slot, start)
    _shared_dir: Path | None = field(default=None, init=False)
    _early_deaths: int = field(default=0, init=False)

    def start(self) -> WorkerPool:
        """Bind (ServerError with one line if taken), share the counts, fork the workers."""
        self._socket = listen(self.host, self.port)
        self.port = int(self._socket.getsockname()[1])
        if self.limiter.per_process:
            try:
                self._shared_dir = Path(tempfile.mkdtemp(prefix="soc-mock-limits-"))
                self.limiter.share_between_processes(self._shared_dir / "counts.sqlite")
            except (OSError, sqlite3.Error) as exc:  # a full or read-only temporary directory
                self.stop()
                raise ServerError(f"cannot share the rate-limit counts: {exc}") from exc
        self.limiter.close()  # no connection crosses the fork
        for slot in range(self.workers):
            self._fork(slot)
        return self

    def serve_until_interrupted(self) -> None:
        """Replace workers that die until SIGINT or SIGTERM, then stop them all.

        A worker that exits with status 0 was told to stop (Ctrl+C reaches the whole process
        group): it is not replaced, and once none is left the pool stops too.
        """
        done = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: done.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while not done.wait(POLL_SECONDS) and self._pids:
                self._reap(replace=True)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            self.stop()

    def stop(self) -> None:
        """SIGTERM every worker, wait (then SIGKILL the late ones), remove the shared file."""
        for pid in self._pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self._pids and time.monotonic() < deadline:
            self._reap(replace=False)
            time.sleep(0.02)
        for pid in list(self._pids):
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            del self._pids[pid]
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._shared_dir is not None:
            shutil.rmtree(self._shared_dir, ignore_errors=True)
            self._shared_dir = None

    def _fork(self, slot: int) -> None:
        assert self._socket is not None
        pid = os.fork()
        if pid == 0:
            _work(self.app, self._socket, self.threads, self.access_log)
        self._pids[pid] = (slot, time.monotonic())

    def _reap(self, *, replace: bool) -> None:
        while self._pids:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0 or pid not in self._pids:
                return
            slot, started = self._pids.pop(pid)
            if not replace or os.waitstatus_to_exitcode(status) == 0:
                continue
            how = _describe(status)
            if time.monotonic() - started < EARLY_DEATH_SECONDS:
                self._early_deaths += 1
                if self._early_deaths >= EARLY_DEATHS_TO_GIVE_UP:
                    raise ServerError(f"worker processes keep dying at start (last {how})")
            else:
                self._early_deaths = 0
            print(
                f"soc-mock: worker {slot + 1} (pid {pid}) {how}; starting another", file=sys.stderr
            )
            self._fork(slot)


def _work(
    app: WSGIApplication, listener: socket.socket, threads: int, access_log: bool
) -> NoReturn:
    """A worker's whole life: serve on ``listener`` until SIGTERM or SIGINT, then exit."""
    code = 0
    try:
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        log = AccessLog(app) if access_log else None
        server = GranianServer(log or app, listener=listener, threads=threads).start()
        while not done.wait(3600):
            pass
        server.stop()
        if log is not None:
            log.close()
    except BaseException:  # noqa: BLE001 - a worker reports and exits; the parent replaces it
        print(redact(traceback.format_exc()), file=sys.stderr)
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
