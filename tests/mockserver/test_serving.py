"""The default server (granian, in process): keep-alive, exact rate limits, bad input at start."""

from __future__ import annotations

import http.client
import io
import threading
from collections import Counter

import pytest
from click.testing import CliRunner

from mockserver.app import create_app
from mockserver.cli import main
from mockserver.config import DEFAULT_TIERS, MockConfig, apply_rate_limits
from mockserver.ratelimit import redact_uri
from mockserver.serving import AccessLog, GranianServer, _granian_internals
from tests.keys import PRO_KEY

SIGMA = "/api/v1/iocs/sigma?limit=1"
PRO = {"Authorization": f"Bearer {PRO_KEY}"}


def test_the_granian_internals_it_drives_are_there() -> None:
    # Pinned to a minor version: this is the test that fails first when granian moves them.
    assert set(_granian_internals()) == {
        "_new_cbscheduler", "SocketHolder", "WorkerSignal", "WSGIWorker", "loops",
        "_callback_wrapper",
    }  # fmt: skip


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    app = create_app(MockConfig())
    server = GranianServer(app, port=0).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(20):
            connection.request("GET", SIGMA, headers=PRO)
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Connection", "").lower() != "close"
            response.read()
        assert connection.sock is not None  # never reconnected: the same socket throughout
        connection.close()
    finally:
        server.stop()


@pytest.mark.parametrize("limit", [37, 50])
def test_rate_limit_is_exact_under_concurrent_connections(limit: int) -> None:
    """One key from 8 keep-alive connections at once: exactly ``limit`` pass, the rest 429."""
    tiers = apply_rate_limits(DEFAULT_TIERS, [f"pro={limit}/minute;1000/day"])
    server = GranianServer(create_app(MockConfig(tiers=tiers)), port=0, threads=8).start()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    per_connection = 15  # 8 x 15 = 120 requests, more than either limit

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for _ in range(per_connection):
            connection.request("GET", SIGMA, headers=PRO)
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
        connection.close()

    try:
        workers = [threading.Thread(target=client) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
    finally:
        server.stop()
    assert statuses == Counter({200: limit, 429: 8 * per_connection - limit})


def test_access_log_is_buffered_and_redacted() -> None:
    stream = io.StringIO()
    app = create_app(MockConfig())
    log = AccessLog(app, stream=stream)
    server = GranianServer(log, port=0).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", SIGMA + "&api_key=sk_live_demo_pro")
        connection.getresponse().read()
        connection.close()
    finally:
        server.stop()
        log.close()
    text = stream.getvalue()
    assert '"GET /api/v1/iocs/sigma?limit=1&api_key=sk_live_…_pro HTTP/1.1" 200' in text, text
    assert PRO_KEY not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "latency:13s"], "fault 'latency' lasts at most 10s"),
        (
            ["--rate-limit-storage", "redis://:hunter2@127.0.0.1:1/0"],
            "rate-limit storage 'redis://:***@127.0.0.1:1/0': no answer from 127.0.0.1:1",
        ),
    ],
)
def test_serve_refuses_in_one_line_with_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {message}")
    assert len(result.output.strip().splitlines()) == 1
    assert "hunter2" not in result.output


def test_a_port_in_use_is_one_line() -> None:
    first = GranianServer(create_app(MockConfig()), port=0).start()
    try:
        result = CliRunner().invoke(main, ["serve", "--port", str(first.port)])
    finally:
        first.stop()
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot listen on 127.0.0.1:")
    assert len(result.output.strip().splitlines()) == 1


def test_redact_uri_hides_only_the_password() -> None:
    assert redact_uri("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_uri("redis://host:6379") == "redis://host:6379"
    assert redact_uri("memory://") == "memory://"
