"""The TCP connection behind a WSGI request, and resetting it (the ``reset`` fault).

werkzeug hands the app its socket (``environ['werkzeug.socket']``). granian does not: its Rust
core owns the connection and tells the app only the client's address, not its port. So under
granian the socket is found among this process's descriptors: a TCP socket on the server's
port whose peer is the client's address and which last received data before the request was
handed to the app. With one connection per client address at a time (a client under test)
that is exact; with several busy connections from one address it is the one that delivered
its request last before this one was handled (documented as such).

Resetting: with ``SO_LINGER`` 0, the last close of a socket sends a RST instead of a FIN.
``dup2``-ing a dead socketpair end over the server's descriptor takes the server's reference
away without closing its descriptor number; closing our duplicate is then the last close. The
server later writes into a broken pipe and drops the connection, never a recycled descriptor.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import stat
import struct
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Where the middleware notes when a request reached it (``time.time()``).
ARRIVED_KEY: Final = "socmock.arrived"
#: ``struct tcp_info``: 8 one-byte fields, then 32-bit fields; ``tcpi_last_data_recv`` (ms
#: since the last data arrived) is the twelfth of those (linux/tcp.h).
_LAST_DATA_RECV: Final = struct.Struct("=I")
_LAST_DATA_RECV_OFFSET: Final = 8 + 11 * 4
_TCP_INFO_SIZE: Final = 104
_ESTABLISHED: Final = 1  # tcpi_state, the first byte
#: tcp_info counts in jiffies (4 ms at HZ=250): a request's arrival may read as a bit late.
_SLACK_SECONDS: Final = 0.02


def reset_descriptor(fd: int) -> None:
    """Make the kernel send a RST on the connection behind ``fd``, now (see the module doc)."""
    with socket.socket(fileno=os.dup(fd)) as ours:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        alive, dead = socket.socketpair()
        dead.close()
        os.dup2(alive.fileno(), fd)
        alive.close()
    # Leaving the block closed the last reference to the connection: the RST is sent.


def _same_address(one: str, other: str) -> bool:
    try:
        first, second = ipaddress.ip_address(one), ipaddress.ip_address(other)
    except ValueError:
        return False
    first = getattr(first, "ipv4_mapped", None) or first
    second = getattr(second, "ipv4_mapped", None) or second
    return first == second


def _descriptors() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return sorted(int(name) for name in os.listdir(folder))
        except OSError:
            continue
    return []


def find_connection(environ: WSGIEnvironment) -> int | None:
    """Return the descriptor of the request's TCP connection, or None if it cannot be told."""
    try:
        server_port = int(environ.get("SERVER_PORT", ""))
    except ValueError:
        return None
    remote = str(environ.get("REMOTE_ADDR", ""))
    arrived = float(environ.get(ARRIVED_KEY, time.time()))
    best: tuple[float, int] | None = None
    for fd in _descriptors():
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue  # closed meanwhile by another thread: not ours
        with sock:
            try:
                if sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if sock.getsockname()[1] != server_port:
                    continue
                if not _same_address(sock.getpeername()[0], remote):
                    continue
                info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
            except OSError:
                continue  # the listening socket (no peer), or a connection just closed
            if info[0] != _ESTABLISHED:
                continue  # a connection the client has closed (CLOSE_WAIT): not this request's
            (idle_ms,) = _LAST_DATA_RECV.unpack_from(info, _LAST_DATA_RECV_OFFSET)
            received = time.time() - idle_ms / 1000
            if received <= arrived + _SLACK_SECONDS and (best is None or received > best[0]):
                best = (received, fd)
    return best[1] if best else None


def abort_connection(environ: WSGIEnvironment) -> None:
    """Reset the client's TCP connection (RST, no FIN) and raise ConnectionResetError.

    werkzeug's socket is in the environ; under granian it is looked for (:func:`find_connection`).
    Where neither works (test clients, other servers) the exception alone is the fallback.
    """
    sock = environ.get("werkzeug.socket")
    fd: int | None = None
    if isinstance(sock, socket.socket) and sock.fileno() >= 0:
        fd = sock.fileno()
    elif environ.get("SERVER_SOFTWARE") == "Granian":
        fd = find_connection(environ)
    if fd is not None:
        with contextlib.suppress(OSError):  # closed meanwhile: the exception still ends it
            reset_descriptor(fd)
    raise ConnectionResetError("mock fault: connection reset")
