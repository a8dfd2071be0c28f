"""A real ``redis-server`` on a loopback port, for tests that share rate-limit state.

Several gunicorn workers only agree on a key's count when the ``limits`` storage is shared;
these tests start a throw-away Redis (no persistence, loopback only, port chosen free) and
hand its ``redis://`` URI to the mock. Without the binary the tests skip with the reason and
the command that installs it (``.ci/run`` installs it on CI).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
#: How long a fresh redis-server may take to answer PING.
START_SECONDS = 10.0
MISSING_REASON = (
    "redis-server is not installed: the cross-worker rate-limit test needs a real Redis "
    "(apt-get install redis-server; .ci/run does this on CI)"
)


def redis_binary() -> str | None:
    """The path of ``redis-server``, or None when it is not installed."""
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False  # exited: most likely the port was taken between choosing and binding
        if _answers_ping(port):
            return True
        time.sleep(0.05)
    return False


@contextmanager
def running_redis(workdir: Path, *, attempts: int = 3) -> Iterator[str]:
    """Run redis-server on a free loopback port; yields its ``redis://`` URI, then stops it."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError(MISSING_REASON)
    for _attempt in range(attempts):
        port = _free_port()
        command = [
            binary,
            "--bind", LOOPBACK,
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--protected-mode", "yes",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if _wait_ready(process, port):
                yield f"redis://{LOOPBACK}:{port}"
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    raise RuntimeError(f"redis-server did not start after {attempts} attempts")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a real Redis for this module's tests; skips when redis-server is missing."""
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url
