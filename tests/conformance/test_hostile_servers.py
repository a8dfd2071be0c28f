"""The checker against hostile input: tiny loopback servers and files built to hurt it.

Each case runs the real ``soc-conformance`` command in a child process and waits for it with
a bound of our own (the child is killed past it, and that is a failure: a hang). What must
hold: a precise failure (exit 1) or "could not test" (exit 3), never a crash (a traceback,
another exit code), never a hang, and the checker's peak memory (its ``wait4`` rusage, read by
a small launcher) under a generous bound. Speed is not asserted: the bound only turns a hang
into a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conformance.fake_servers import read_request_head, serve_raw

CHECKER = Path(sys.executable).with_name("soc-conformance")
KEY = "sk_live_hostile_0123456789abcd"
#: A child still running after this long is hung (a full run against these servers needs a
#: few seconds; the slow-body case about twice the --timeout).
BOUND_SECONDS = 120.0
#: Peak resident memory allowed to one checker process, in MiB: its baseline is 45-75 MiB,
#: plus up to its 64 MiB body limit; a 100 MB body kept whole, or a YAML bomb expanded, is not.
MAX_RSS_MIB = 256
#: The checker's default body limit is 64 MiB; these servers send more than that.
HUGE_BYTES = 100 * 1024 * 1024
SERVER_OPTIONS = ("--timeout", "2", "--max-examples", "2", "--max-requests", "120")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]

# -- running the checker -------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """How one checker process ended."""

    exit_code: int
    stdout: str
    stderr: str
    max_rss_mib: float
    hung: bool

    @property
    def output(self) -> str:
        """Both streams."""
        return self.stdout + self.stderr

    def assert_survived(self, *exit_codes: int, max_rss_mib: float = MAX_RSS_MIB) -> None:
        """No hang, no crash, bounded memory, and one of the expected exit codes."""
        tail = self.output[-3000:]
        assert not self.hung, f"the checker hung (killed after {BOUND_SECONDS:.0f} s):\n{tail}"
        assert "Traceback (most recent call last)" not in self.output, tail
        assert self.exit_code in exit_codes, f"exit {self.exit_code}:\n{tail}"
        assert self.max_rss_mib < max_rss_mib, f"peak RSS {self.max_rss_mib:.0f} MiB"


#: Runs the checker as its child and writes the child's peak RSS (KiB) to a file. A process
#: forked from pytest would inherit pytest's own peak RSS as its floor (Linux keeps the
#: high-water mark across exec); forked from this small launcher, the floor is a few MiB.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(min(255, max(0, os.waitstatus_to_exitcode(status))))
"""


def run_checker(
    args: Sequence[str],
    tmp: Path,
    *,
    feed: Callable[[subprocess.Popen[bytes]], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Run:
    """Run ``soc-conformance ARGS`` under the launcher; kill its session past the bound."""
    out, err, rss = tmp / "stdout.txt", tmp / "stderr.txt", tmp / "maxrss.txt"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SOCDEFENDERS_")}
    full_env.update(env or {})
    command = [sys.executable, "-c", LAUNCHER, str(rss), str(CHECKER), *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=full_env,
            start_new_session=True,  # so a hang is killed with all its processes
        )
    feeder = threading.Thread(target=feed, args=(process,), daemon=True) if feed else None
    if feeder is not None:
        feeder.start()
    hung = False
    try:
        process.wait(timeout=BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    if feeder is not None:
        feeder.join(timeout=10)
    return Run(
        exit_code=process.returncode,
        stdout=out.read_text(encoding="utf-8", errors="replace"),
        stderr=err.read_text(encoding="utf-8", errors="replace"),
        max_rss_mib=int(rss.read_text() or 0) / 1024 if rss.exists() else 0.0,  # KiB on Linux
        hung=hung,
    )


def check_server(url: str, tmp: Path) -> Run:
    """``soc-conformance server`` against ``url`` with small, fast limits."""
    return run_checker(["server", "--base-url", url, "--api-key", KEY, *SERVER_OPTIONS], tmp)


def check_file(body: bytes, tmp: Path) -> Run:
    """``soc-conformance rules FILE`` on ``body`` (one target, no validators: kept quick)."""
    path = tmp / "rules.yml"
    path.write_bytes(body)
    return run_checker(["rules", str(path), "--targets", "splunk+sysmon", "--no-validators"], tmp)


# -- hostile bodies --------------------------------------------------------------------------


def alias_bomb(levels: int = 12) -> bytes:
    """The "billion laughs": each level nine aliases of the one before (9**12 leaves)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]")
    lines.append(
        f"title: bomb\ndetection:\n  selection:\n    x: *a{levels}\n  condition: selection"
    )
    return ("\n".join(lines) + "\n").encode()


def python_object(path: Path) -> bytes:
    """A rule whose title is a ``!!python/object/apply`` tag that creates ``path``."""
    return (
        f"title: !!python/object/apply:os.mkdir [{str(path)!r}]\n"
        "id: 0d6a1d2e-1111-4222-8333-444455556666\n"
        "detection:\n  selection:\n    DestinationIp: '192.0.2.1'\n  condition: selection\n"
    ).encode()


def deeply_nested(depth: int = 100_000, block_depth: int = 1_100) -> bytes:
    """A flow sequence nested ``depth`` levels, then a block mapping ``block_depth`` levels."""
    flow = "title: deep\ndetection: " + "[" * depth + "]" * depth + "\n"
    block = "".join(f"{'  ' * n}k{n}:\n" for n in range(block_depth)) + "  " * block_depth + "x\n"
    return (flow + "---\n" + block).encode()


NOT_UTF8 = b"title: caf\xe9 \xff\xfe\nid: \xc3\x28\ndetection: {condition: selection}\n"

# -- hostile servers ----------------------------------------------------------------------


def _head(status: str, content_type: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answering(
    body: bytes, content_type: str = "application/yaml"
) -> Callable[[socket.socket], None]:
    """Every request gets ``200`` with ``body``."""

    def handle(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(_head("200 OK", content_type, len(body)) + body)

    return handle


def endless(
    chunk: bytes, *, pause: float, declared: int | None = None
) -> Callable[[socket.socket], None]:
    """200, then ``chunk`` after ``chunk`` until the client hangs up (or HUGE_BYTES + 1 MiB)."""

    def handle(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(_head("200 OK", "application/yaml", declared))
        sent = 0
        while sent <= HUGE_BYTES + 2**20:
            sock.sendall(chunk)  # OSError once the client has given up: the handler ends
            sent += len(chunk)
            if pause:
                time.sleep(pause)

    return handle


def resetting(after: bytes = b"") -> Callable[[socket.socket], None]:
    """Send ``after`` (maybe nothing), then reset the connection (RST, not FIN)."""

    def handle(sock: socket.socket) -> None:
        read_request_head(sock)
        if after:
            sock.sendall(after)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    return handle


def broken_envelope(sock: socket.socket) -> None:
    """The right key gets an empty 200 (no rules); every error body is truncated JSON."""
    head = read_request_head(sock).decode("latin-1")
    if KEY in head:
        sock.sendall(_head("200 OK", "application/yaml; charset=utf-8", 0))
        return
    body = b'{"error": {"code": "missing_api_key", "message": "no key'
    sock.sendall(_head("401 Unauthorized", "application/json", len(body)) + body)


@contextlib.contextmanager
def hostile(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A hostile server's base URL."""
    with serve_raw(handle) as url:
        yield url


# -- the server mode ----------------------------------------------------------------------


def test_alias_bomb_from_a_server_is_a_failure(tmp_path: Path) -> None:
    with hostile(answering(alias_bomb())) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(1)
    assert "alias" in run.stdout.lower(), run.stdout[-2000:]


@pytest.mark.parametrize("declared", [None, HUGE_BYTES], ids=["streamed", "content-length"])
def test_a_100_mb_body_stops_at_the_size_limit(tmp_path: Path, declared: int | None) -> None:
    with hostile(endless(b"#" * 65_536, pause=0.0, declared=declared)) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(3)
    assert "body too large" in run.output, run.output


def test_an_endless_slow_body_stops_at_the_deadline(tmp_path: Path) -> None:
    with hostile(endless(b"title: x\n", pause=0.2)) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(3)
    assert "deadline" in run.output, run.output


def test_non_utf8_bytes_from_a_server_are_a_failure(tmp_path: Path) -> None:
    with hostile(answering(NOT_UTF8)) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(1)
    assert "UTF-8" in run.stdout, run.stdout[-2000:]


def test_python_object_tags_from_a_server_never_execute(tmp_path: Path) -> None:
    target = tmp_path / "created-by-the-server"
    assert_payload_is_live(tmp_path)
    with hostile(answering(python_object(target))) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(1)
    assert not target.exists(), "the checker executed a !!python/object tag"
    assert "tag" in run.stdout.lower(), run.stdout[-2000:]


def test_deeply_nested_documents_from_a_server_are_a_failure(tmp_path: Path) -> None:
    with hostile(answering(deeply_nested())) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(1)
    assert "nest" in run.stdout.lower(), run.stdout[-2000:]


@pytest.mark.parametrize(
    "handler",
    [resetting(), resetting(_head("200 OK", "application/yaml", 10_000) + b"title: half\n")],
    ids=["before-any-byte", "mid-body"],
)
def test_connection_resets_are_could_not_test(
    tmp_path: Path, handler: Callable[[socket.socket], None]
) -> None:
    with hostile(handler) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(3)
    assert "could not test" in run.output.lower(), run.output


def test_many_large_bodies_under_the_limit_keep_memory_bounded(tmp_path: Path) -> None:
    body = (b"# " + b"x" * 1021 + b"\n") * (40 * 1024)  # 40 MiB of YAML comments: no rules
    with hostile(answering(body)) as url:
        run = check_server(url, tmp_path)
    # Room for a run-wide budget of a few bodies, not for one of them per request.
    run.assert_survived(1, 3, max_rss_mib=2 * MAX_RSS_MIB)


def test_a_broken_json_error_envelope_is_a_failure(tmp_path: Path) -> None:
    with hostile(broken_envelope) as url:
        run = check_server(url, tmp_path)
    run.assert_survived(1)
    assert "missing_key_is_401_missing_api_key: FAILED" in run.stdout, run.stdout[-3000:]


# -- the rules mode, on bytes --------------------------------------------------------------


def assert_payload_is_live(tmp: Path) -> None:
    """Prove the tag payload would create its directory when loaded unsafely."""
    control = tmp / "control"
    yaml.unsafe_load(python_object(control))
    assert control.is_dir(), "the payload is inert: the test would prove nothing"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (alias_bomb(), "alias"),
        (NOT_UTF8, "UTF-8"),
        (deeply_nested(), "nest"),
    ],
    ids=["alias-bomb", "not-utf8", "deeply-nested"],
)
def test_hostile_files_are_failures(tmp_path: Path, body: bytes, says: str) -> None:
    run = check_file(body, tmp_path)
    run.assert_survived(1)
    assert says.lower() in run.stdout.lower(), run.stdout[-2000:]


def test_python_object_tags_in_a_file_never_execute(tmp_path: Path) -> None:
    target = tmp_path / "created-by-the-file"
    assert_payload_is_live(tmp_path)
    run = check_file(python_object(target), tmp_path)
    run.assert_survived(1)
    assert not target.exists(), "the checker executed a !!python/object tag"


def _endless_stdin(process: subprocess.Popen[bytes]) -> None:
    """Write YAML comment lines to the checker's stdin until it stops reading (or 300 MiB)."""
    assert process.stdin is not None
    line = b"# " + b"x" * 1021 + b"\n"
    block = line * 1024
    with contextlib.suppress(OSError):
        for _ in range(300):
            process.stdin.write(block)
        process.stdin.close()


def test_an_endless_stdin_stops_at_the_size_limit(tmp_path: Path) -> None:
    run = run_checker(["rules", "-", "--no-validators"], tmp_path, feed=_endless_stdin)
    run.assert_survived(1, 3)
    assert "limit" in run.output, run.output[-2000:]
