"""A real HTTP server for the mock on a loopback port, in this process.

``with LiveServer(app) as server: requests.get(server.url + "/healthz")``. Port 0 (the
default) lets the OS choose a free port. The server is the one ``soc-mock serve`` runs,
granian (:mod:`mockserver.serving`), unless ``server="werkzeug"`` (``soc-mock serve --dev``).
Exceptions raised while serving are stored and re-raised in the calling thread when the
server stops, or by :meth:`LiveServer.check`, so that a test sees the server's error, not
just a 500: those of a view (Flask's ``got_request_exception``), those of WSGI middleware
outside Flask's dispatch (the fault layer, a request recorder: caught by an outermost
:class:`ErrorRecorder` around ``app.wsgi_app``), and those of the server loop. A client
hanging up (``ConnectionError``, including the ``reset`` fault's own) is not an error of the
server. Access-log lines have API keys redacted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flask import Flask, got_request_exception
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mockserver.errors import MockServerError, redact
from mockserver.serving import DEFAULT_THREADS, AccessLog, GranianServer, ServerError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LOOPBACK = "127.0.0.1"
#: The servers a LiveServer can run: the default, and werkzeug's development server.
SERVERS = ("granian", "werkzeug")


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with API keys removed from its access-log lines."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Log like werkzeug, after redacting keys from the formatted line."""
        super().log(type, "%s", redact(message % args))


class SilentRequestHandler(RedactingRequestHandler):
    """A request handler that writes no access log (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access-log line."""


class LiveServerError(MockServerError):
    """The live server failed to start or stop, or failed while serving."""


class ErrorRecorder:
    """Outermost WSGI layer: hands every exception escaping the app to ``record``, re-raised.

    It covers both calling the app and iterating its body (a middleware may fail while the
    body is sent); the server then answers 500 or drops the connection as it would anyway.
    """

    def __init__(self, app: WSGIApplication, record: Callable[[BaseException], None]) -> None:
        """Wrap ``app``; ``record`` receives each escaping exception."""
        self.app = app
        self.record = record

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through the wrapped app, noting what escapes it."""
        try:
            iterable = self.app(environ, start_response)
        except ConnectionError:
            raise
        except Exception as exc:
            self.record(exc)
            raise
        return self._body(iterable)

    def _body(self, iterable: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from iterable
        except ConnectionError:
            raise  # the client went away (or the reset fault): not the server's failure
        except Exception as exc:
            self.record(exc)
            raise
        finally:
            getattr(iterable, "close", lambda: None)()  # WSGI: always close the app's iterable


class LiveServer:
    """Serve a WSGI app on ``host:port`` in a daemon thread; a context manager."""

    def __init__(
        self,
        app: Flask,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        access_log: bool = False,
        server: str = "granian",
        threads: int = DEFAULT_THREADS,
    ) -> None:
        """Prepare (but do not start) a server for ``app``: ``server`` is granian or werkzeug."""
        if server not in SERVERS:
            raise LiveServerError(f"unknown server {server!r}; known: {', '.join(SERVERS)}")
        self.app = app
        self.access_log = access_log
        self.host = host
        self.port = port
        self.server = server
        self.threads = threads
        self.errors: list[BaseException] = []
        self._server: BaseWSGIServer | GranianServer | None = None
        self._access_log: AccessLog | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wrapped: WSGIApplication | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:49152`` (valid once started)."""
        if self._server is None:
            raise LiveServerError("the live server is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _record(self, sender: Any, exception: BaseException, **_: Any) -> None:
        with self._lock:
            if not any(seen is exception for seen in self.errors):
                self.errors.append(exception)

    def _record_escaped(self, exception: BaseException) -> None:
        self._record(self, exception)

    def start(self) -> LiveServer:
        """Bind the socket and start serving; bind errors are raised here."""
        if self._server is not None:
            raise LiveServerError("the live server is already running")
        got_request_exception.connect(self._record, self.app)
        self._wrapped = self.app.wsgi_app
        self.app.wsgi_app = ErrorRecorder(self._wrapped, self._record_escaped)  # type: ignore[method-assign]
        try:
            if self.server == "granian":
                self._server = self._start_granian()
                self.port = self._server.port
                return self
            self._server = make_server(
                self.host,
                self.port,
                self.app,
                threaded=True,
                request_handler=RedactingRequestHandler
                if self.access_log
                else SilentRequestHandler,
            )
        except BaseException:
            got_request_exception.disconnect(self._record, self.app)
            self._unwrap()
            raise
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._serve, name=f"soc-mock-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def _start_granian(self) -> GranianServer:
        app: WSGIApplication = self.app
        if self.access_log:
            app = self._access_log = AccessLog(app)
        try:
            server = GranianServer(app, self.host, self.port, threads=self.threads)
            return server.start()
        except ServerError as exc:
            raise LiveServerError(str(exc)) from exc

    def _serve(self) -> None:
        assert isinstance(self._server, BaseWSGIServer)
        try:
            self._server.serve_forever(poll_interval=0.1)
        except BaseException as exc:  # noqa: BLE001 - stored and re-raised in the caller
            self._record(self, exc)

    def _unwrap(self) -> None:
        """Put back the app's own ``wsgi_app`` (unless someone wrapped it again since)."""
        if isinstance(self.app.wsgi_app, ErrorRecorder) and self._wrapped is not None:
            self.app.wsgi_app = self._wrapped  # type: ignore[assignment]
        self._wrapped = None

    def check(self) -> None:
        """Re-raise (once) the first exception raised while serving, if any."""
        with self._lock:
            errors, self.errors = self.errors, []
        if errors:
            first = errors[0]
            if len(errors) > 1:
                first.add_note(f"(and {len(errors) - 1} more error(s) in the live server)")
            raise first

    def stop(self) -> None:
        """Stop serving, close the socket, then re-raise any stored exception."""
        if self._server is not None:
            if isinstance(self._server, GranianServer):
                self._server.stop()
            else:
                self._server.shutdown()
                self._server.server_close()
            if self._access_log is not None:
                self._access_log.close()
                self._access_log = None
            if self._thread is not None:
                self._thread.join(timeout=10)
            got_request_exception.disconnect(self._record, self.app)
            self._unwrap()
            self._server = None
            self._thread = None
        self.check()

    def __enter__(self) -> LiveServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server; a failure of the with-block takes precedence over server errors."""
        if exc is None:
            self.stop()
            return
        try:
            self.stop()
        except BaseException as server_error:  # noqa: BLE001 - attached to the block's error
            exc.add_note(f"the live server also failed: {server_error!r}")
