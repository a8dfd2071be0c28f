"""The production HTTP server for the mock: granian's Rust HTTP/1.1 core, in this process.

``soc-mock serve`` and the test harness (:mod:`mockserver.liveserver`) both run the app on a
:class:`GranianServer`: a pool of Python threads calling the WSGI app in this process,
keep-alive on every connection. ``soc-mock serve --workers N`` runs one in each of N forked
processes on a shared socket (:mod:`mockserver.workers`, which also says what they share).

granian's own launcher (:class:`granian.server.MPServer`) forks worker processes that import the
app by name; the mock needs the app it has already built (fixtures loaded once, bad input
refused before the banner) and, for tests, in the same process. So this module starts granian's
worker (``WSGIWorker``) on a listening socket it owns, in a thread, the way granian's own
free-threaded server does (``granian/server/mt.py``). Those names are granian internals: the
dependency is pinned to a minor version and ``tests/mockserver/test_serving.py`` fails first if
they move.

The access log (:class:`AccessLog`) is a WSGI layer writing one line per request, keys redacted,
into a buffer flushed at most every half second: no syscall per request.

Kept whole because the socket, the worker thread and the shutdown order are one lifecycle;
splitting them would spread granian's internals over several files.
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, Final

from mockserver.errors import MockServerError, redact

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Python threads calling the app. The app holds the GIL for most of a request, so more
#: threads add little; a few keep slow answers (latency, dribble faults) from blocking others.
DEFAULT_THREADS: Final = 8
BACKLOG: Final = 1024
FLUSH_SECONDS: Final = 0.5
SHORT_BODY_GRACE_SECONDS: Final = 0.05


class ServerError(MockServerError):
    """The HTTP server could not start (the address is taken, granian is missing or changed)."""


class GranianServer:
    """granian serving a WSGI app on ``host:port`` from this process; start, then stop.

    ``start()`` binds (raising :class:`ServerError` with one line if it cannot) and returns at
    once: granian's Rust runtime accepts and parses on its own threads and calls the app on
    ``threads`` Python threads. ``stop()`` closes the socket and waits for the worker.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = DEFAULT_THREADS,
        listener: socket.socket | None = None,
    ) -> None:
        """Prepare (but do not start) a server for ``app`` (on ``listener``, if one is given)."""
        self.app = app
        self._listener = listener
        self.host = host
        self.port = port
        self.threads = max(1, threads)
        self._signal: Any = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._before: set[int] = set()
        self._socket: socket.socket | None = None

    def start(self) -> GranianServer:
        """Bind the socket and start serving; ``self.port`` is then the bound port."""
        granian = _granian_internals()
        self._socket = self._listener or listen(self.host, self.port)
        # granian owns (and closes) the descriptor it is given: give it a duplicate.
        holder = granian["SocketHolder"](os.dup(self._socket.fileno()), False, BACKLOG)
        self.port = int(self._socket.getsockname()[1])
        self._before = _os_threads()
        self._signal = granian["WorkerSignal"]()
        adapted = WSGIAdapter(self.app)
        callback = granian["_callback_wrapper"](adapted, {"url_path_prefix": None}, None)
        started = threading.Event()

        def serve() -> None:
            loop = granian["loops"].get("asyncio")
            try:
                worker = granian["WSGIWorker"](
                    1,  # worker id
                    (None, holder),  # (listener spec, built socket)
                    None,  # no IPC: no metrics
                    1,  # Rust runtime threads: parsing is not the bottleneck
                    512,  # Rust blocking threads (granian's default)
                    self.threads,  # Python threads calling the app
                    30,  # seconds an idle Python thread lives
                    BACKLOG,  # backpressure: requests in flight before accept waits
                    "1",  # HTTP/1.1 only (what clients of the vendor API speak)
                    None,  # HTTP/1 settings: granian's (keep-alive on)
                    None,  # HTTP/2 settings
                    None,  # no static files
                    *(False, None, None, None, "tls1.3", None, [], False),  # no TLS
                    (None, None),  # metrics off
                )
                scheduler = granian["_new_cbscheduler"](loop, callback, impl_asyncio=True)
                worker.serve_mtr(scheduler, loop, self._signal)
            except BaseException as exc:  # noqa: BLE001 - re-raised by start()
                self._failure = exc
            finally:
                started.set()

        self._thread = threading.Thread(target=serve, name=f"granian-{self.port}", daemon=True)
        self._thread.start()
        started.wait(30)
        if self._failure is not None:
            raise ServerError(f"granian failed to start: {self._failure}") from self._failure
        return self

    @property
    def running(self) -> bool:
        """Whether the server was started and not stopped."""
        return self._signal is not None

    def stop(self) -> None:
        """Stop accepting and wait (at most 5 s) for granian's threads to end; idempotent.

        The signal returns at once while granian's Rust threads wind down; an interpreter
        that exits under them aborts ("panic in a function that cannot unwind").
        """
        if self._signal is None:
            return
        self._signal.set()
        self._signal = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            python = {t.native_id for t in threading.enumerate() if not _is_dummy(t)}
            if not _os_threads() - self._before - python:
                break
            time.sleep(0.01)
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port); ServerError if taken."""
    try:
        # Our own socket, not granian's SocketSpec: that one sets SO_REUSEPORT, so a
        # second server on a busy port would start and share it instead of failing.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        raise ServerError(f"cannot listen on {host}:{port}: {exc}") from exc


class WSGIAdapter:
    """What granian's WSGI layer leaves to the app: a late start_response, a reset connection.

    - granian reads the status and headers as soon as the app returns. An app (or middleware)
      that is a generator calls ``start_response`` only when its first chunk is pulled, which
      PEP 3333 allows; so the first chunks are pulled here, before returning, and a body of
      one chunk is handed over as a list.
    - A ``ConnectionError`` (the ``reset`` fault's, a client gone) ends the answer quietly: the
      connection is gone, and granian would log each one with a traceback. The layers inside
      have already seen it (werkzeug behaves the same).
    """

    def __init__(self, app: WSGIApplication) -> None:
        """Wrap ``app``."""
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through ``app`` with the status and headers known on return."""
        promised: list[int] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            length = next((v for k, v in headers if k.lower() == "content-length"), "")
            promised[:] = [int(length)] if length.isdigit() else []
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
            if isinstance(body, list):
                return body  # the common case: granian sends it in one piece
            chunks = iter(body)
            first = [next(chunks, b"")]
            second = next(chunks, None)
        except ConnectionError:
            start_response("500 Internal Server Error", [("Connection", "close")])
            return []  # into a connection already reset: nobody reads it
        if second is None and (not promised or promised[0] == len(first[0])):
            # One piece (a Flask answer): a list, which granian sends in one write. A stream
            # goes out in several, and a small answer on a keep-alive connection then waits
            # on the client's delayed ACK (40 ms: 25 requests/s at concurrency 1).
            getattr(body, "close", lambda: None)()
            return first
        rest = first if second is None else [*first, second]
        return self._rest(rest, chunks, body, promised)

    @staticmethod
    def _rest(
        first: list[bytes], chunks: Iterator[bytes], body: Iterable[bytes], promised: list[int]
    ) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in itertools.chain(first, chunks):
                sent += len(chunk)
                yield chunk
            if promised and sent < promised[0]:
                # A body cut short of its Content-Length (the truncate fault): granian then
                # drops the connection, at times before the last chunk has left. Let it go.
                time.sleep(SHORT_BODY_GRACE_SECONDS)
        except ConnectionError:
            return
        finally:
            getattr(body, "close", lambda: None)()


def _os_threads() -> set[int]:
    """This process's OS thread ids (Linux; elsewhere empty, and stop() does not wait)."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def _is_dummy(thread: threading.Thread) -> bool:
    """A thread not started by ``threading`` (granian's, once Python code asked its name)."""
    return isinstance(thread, threading._DummyThread)  # no public test for it


def _granian_internals() -> dict[str, Any]:
    """The granian names the server is built from (internal ones: typed Any on purpose)."""
    import importlib

    names = {
        "granian._futures": ("_new_cbscheduler",),
        "granian._granian": ("SocketHolder", "WorkerSignal", "WSGIWorker"),
        "granian._loops": ("loops",),
        "granian.wsgi": ("_callback_wrapper",),
    }
    found: dict[str, Any] = {}
    try:
        for module, attributes in names.items():
            loaded = importlib.import_module(module)
            found.update((name, getattr(loaded, name)) for name in attributes)
    except (ImportError, AttributeError) as exc:
        raise ServerError(f"this granian version is not supported ({exc}); use --dev") from exc
    return found


class AccessLog:
    """WSGI layer: one line per request (``addr "METHOD target" status bytes``), keys redacted.

    Lines go into an in-memory buffer written out by a daemon thread at most every
    ``FLUSH_SECONDS`` (and on :meth:`close`), so the request path never waits on the terminal.
    """

    def __init__(self, app: WSGIApplication, stream: IO[str] | None = None) -> None:
        """Log the requests ``app`` answers to ``stream`` (standard error by default)."""
        self.app = app
        self._stream = stream if stream is not None else sys.stderr
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._second = 0
        self._stamp = ""
        self._flusher = threading.Thread(target=self._run, name="soc-mock-access-log", daemon=True)
        self._flusher.start()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through the app, then note the request."""
        status: list[str] = []

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, exc_info)

        body = self.app(environ, start)
        return self._logged(environ, body, status)

    def _logged(
        self, environ: WSGIEnvironment, body: Iterable[bytes], status: list[str]
    ) -> Iterator[bytes]:
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            getattr(body, "close", lambda: None)()
            query = environ.get("QUERY_STRING") or ""
            target = str(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
            line = (
                f"{environ.get('REMOTE_ADDR', '-')} - - [{self._now()}] "
                f'"{environ.get("REQUEST_METHOD", "-")} {target} '
                f'{environ.get("SERVER_PROTOCOL", "-")}" {status[0] if status else "-"} {size}'
            )
            with self._lock:
                self._lines.append(redact(line))

    def _now(self) -> str:
        second = int(time.time())
        if second != self._second:  # formatting the time once a second, not once a request
            self._second = second
            self._stamp = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(second))
        return self._stamp

    def _run(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write out the buffered lines."""
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Stop the flusher and write what is left."""
        self._closed.set()
        self._flusher.join(timeout=5)
        self.flush()


def wait_for_interrupt(stop: Callable[[], None]) -> None:
    """Block the main thread until SIGINT or SIGTERM, then call ``stop``."""
    import signal

    done = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        done.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(3600):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        stop()
