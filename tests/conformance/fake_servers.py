"""Tiny loopback servers for the transport and server-check unit tests.

``serve_wsgi`` runs any WSGI app (a Flask app, or a bare function) on 127.0.0.1, port 0, in a
daemon thread; ``serve_raw`` hands each accepted socket to a function, for misbehaviour no
WSGI server will produce (a reset mid-body, a body that never ends).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` on a loopback port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_raw(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """Call ``handle(sock)`` for each connection on a loopback port; yields the base URL."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            # The client giving up first is exactly what some tests provoke.
            with contextlib.suppress(OSError):
                handle(self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def read_request_head(sock: socket.socket) -> bytes:
    """Read an HTTP request's head (up to the blank line)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
