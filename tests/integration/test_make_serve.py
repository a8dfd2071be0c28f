"""``make serve``: HOST/PORT on make's command line, else the mock's SOCMOCK_* precedence."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def serve_command(*args: str, env: dict[str, str] | None = None) -> str:
    """The soc-mock line ``make -n serve`` would run (nothing is run)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    environment.update(env or {})
    done = subprocess.run(
        [str(MAKE), "-n", "serve", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    (line,) = [x for x in done.stdout.splitlines() if "soc-mock serve" in x]
    return line.strip()


def test_no_host_or_port_unless_given_on_the_command_line() -> None:
    assert serve_command().endswith("soc-mock serve")
    assert serve_command(env={"SOCMOCK_PORT": "18090"}).endswith("soc-mock serve")
    # A shell's HOST (tcsh exports the machine's name) or a PaaS PORT is not an instruction.
    assert serve_command(env={"HOST": "myhost", "PORT": "1"}).endswith("soc-mock serve")


def test_host_and_port_on_the_command_line_are_passed() -> None:
    assert serve_command("PORT=8080", "HOST=0.0.0.0").endswith(
        "soc-mock serve --host 0.0.0.0 --port 8080"
    )
    assert serve_command("PORT=8080").endswith("soc-mock serve --port 8080")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_socmock_port_is_honoured_by_a_real_make_serve() -> None:
    up_to_date = subprocess.run(
        [str(MAKE), "-q", ".venv/.installed"], cwd=ROOT, capture_output=True, check=False
    )
    if up_to_date.returncode != 0:
        pytest.skip("the .venv stamp is out of date: make serve would reinstall")
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    environment["SOCMOCK_PORT"] = str(port)
    server = subprocess.Popen(
        [str(MAKE), "serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped below with make's children
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert server.poll() is None, "make serve exited early"
                assert time.monotonic() < deadline, f"nothing listens on {port}"
                time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
