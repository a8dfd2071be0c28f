"""A real HTTP server for the mock on a loopback port, in a daemon thread.

``with LiveServer(app) as server: requests.get(server.url + "/healthz")``. Port 0 (the
default) lets the OS choose a free port. Exceptions raised while serving (in a view, or in the
server loop) are stored and re-raised in the calling thread when the server stops, or by
:meth:`LiveServer.check`, so that a test sees the server's error, not just a 500.
Access-log lines have API keys redacted.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from flask import Flask, got_request_exception
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mockserver.errors import MockServerError, redact

LOOPBACK = "127.0.0.1"


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


class LiveServer:
    """Serve a WSGI app on ``host:port`` in a daemon thread; a context manager."""

    def __init__(
        self, app: Flask, host: str = LOOPBACK, port: int = 0, *, access_log: bool = False
    ) -> None:
        """Prepare (but do not start) a server for ``app``."""
        self.app = app
        self.access_log = access_log
        self.host = host
        self.port = port
        self.errors: list[BaseException] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:49152`` (valid once started)."""
        if self._server is None:
            raise LiveServerError("the live server is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _record(self, sender: Any, exception: BaseException, **_: Any) -> None:
        with self._lock:
            self.errors.append(exception)

    def start(self) -> LiveServer:
        """Bind the socket and start serving; bind errors are raised here."""
        if self._server is not None:
            raise LiveServerError("the live server is already running")
        got_request_exception.connect(self._record, self.app)
        self._server = make_server(
            self.host,
            self.port,
            self.app,
            threaded=True,
            request_handler=RedactingRequestHandler if self.access_log else SilentRequestHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._serve, name=f"soc-mock-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._server is not None
        try:
            self._server.serve_forever(poll_interval=0.1)
        except BaseException as exc:  # noqa: BLE001 - stored and re-raised in the caller
            self._record(self, exc)

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
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            got_request_exception.disconnect(self._record, self.app)
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
