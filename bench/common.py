"""What the benchmark scripts share: generated fixtures, a child server, timing, reporting.

Every figure is measured side by side in one run: A and B alternate, several rounds, and
the medians are compared. Each script ends with ``RESULT`` lines that ``run_all.py`` collects:

    RESULT <name> <value> <unit> target <op> <target> <MET|MISSED>
    RESULT <name> <value> <unit> no-target REPORTED
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEED = 20261129
PRO_KEY = "sk_live_demo_pro"
#: No benchmark request may be refused by the Pro tier's real limits.
UNLIMITED = "pro=100000000/minute;1000000000/day,free=100000000/minute;1000000000/day"
#: Runs the command as its own child and prints that child's peak RSS (KiB) to a file:
#: a process forked from a big parent starts with the parent's RSS as its high-water mark.
LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the SIGINT sent to the group is the child's
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(min(255, max(0, os.waitstatus_to_exitcode(status))))
"""


def write_fixture(path: Path, count: int, seed: int = SEED) -> float:
    """Generate a ``count``-IOC dataset file at ``path``; return the seconds it took."""
    from mockserver.fixtures import dump_dataset
    from mockserver.generate import REFERENCE_NOW, generate_meta, generate_records

    start = time.perf_counter()
    text = dump_dataset(
        generate_meta(seed, count, REFERENCE_NOW), generate_records(seed, count, REFERENCE_NOW)
    )
    path.write_bytes(text.encode("utf-8"))
    return time.perf_counter() - start


def alternate(
    first: Callable[[], float], second: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """Run ``first`` and ``second`` ``rounds`` times each, swapping the order every round."""
    a: list[float] = []
    b: list[float] = []
    for number in range(rounds):
        if number % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


@dataclass(frozen=True)
class Result:
    """One benchmark figure against its target."""

    name: str
    value: float
    unit: str
    op: str = ""  # "<=", ">=", "<"; empty when the figure is only reported
    target: float | None = None

    @property
    def met(self) -> bool:
        """Whether the value meets the target (True when there is none)."""
        if self.target is None:
            return True
        if self.op == "<=":
            return self.value <= self.target
        if self.op == ">=":
            return self.value >= self.target
        return self.value < self.target

    def line(self) -> str:
        """The machine-readable RESULT line."""
        if self.target is None:
            return f"RESULT {self.name} {self.value:.3f} {self.unit} no-target REPORTED"
        verdict = "MET" if self.met else "MISSED"
        return (
            f"RESULT {self.name} {self.value:.3f} {self.unit} "
            f"target {self.op} {self.target:g} {verdict}"
        )


def report(result: Result) -> None:
    """Print a result line (flushed, so run_all sees it as it comes)."""
    print(result.line(), flush=True)


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def describe(label: str, values: list[float], unit: str = "s") -> None:
    """Print the median of one side, its spread, and every run when there are few."""
    spread = f"min {min(values):.4f}, max {max(values):.4f}, n={len(values)}"
    runs = f"; runs: {', '.join(f'{v:.4f}' for v in values)}" if len(values) <= 9 else ""
    print(f"  {label}: median {median(values):.4f} {unit}  ({spread}{runs})", flush=True)


# -- a server in a child process -------------------------------------------------------------


def _serve(build: Callable[[], Flask], conn: Connection) -> None:
    from werkzeug.serving import make_server

    from mockserver.liveserver import SilentRequestHandler

    app = build()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=SilentRequestHandler)
    conn.send(server.server_port)
    server.serve_forever()


@contextmanager
def child_server(build: Callable[[], Flask]) -> Iterator[str]:
    """Serve ``build()`` with werkzeug's threaded server in a forked child; yields its URL.

    The server has its own process (its own GIL), like a real deployment; the benchmark's
    HTTP client runs in this one.
    """
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(build, child), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 300
        while not parent.poll(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        process.terminate()
        process.join(10)


# -- a measured command ------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A command's start-up time (to its first good answer) and peak RSS."""

    startup_seconds: float
    max_rss_mib: float


def measure_server(
    command: list[str],
    probe: Callable[[str], bool],
    load: Callable[[str], Any],
    workdir: Path,
    timeout: float = 120,
) -> Measured:
    """Start a server command, time it until ``probe(output)`` succeeds, ``load`` it, stop it.

    ``probe`` gets the command's output so far and returns True once a request succeeded;
    ``load`` (given the output too) then sends the heavier requests whose memory counts.
    The peak RSS is the server process's own, read by the launcher.
    """
    rss_file, log = workdir / "maxrss.txt", workdir / "server.log"
    rss_file.unlink(missing_ok=True)
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(rss_file), *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not probe(log.read_text(encoding="utf-8", errors="replace")):
            if process.poll() is not None:
                raise RuntimeError(f"server exited {process.returncode}: {log.read_text()}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"server not ready after {timeout} s: {log.read_text()}")
            time.sleep(0.01)
        startup = time.perf_counter() - started
        load(log.read_text(encoding="utf-8", errors="replace"))
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return Measured(startup, int(rss_file.read_text() or 0) / 1024)
