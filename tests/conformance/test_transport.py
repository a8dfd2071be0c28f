"""The transport: bounded bodies and time, a budget, rate-limit politeness, redacted records."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from conformance.findings import HarnessError
from conformance.redaction import Scrubber
from conformance.server.transport import (
    AuthStyle,
    BudgetExhausted,
    Credentials,
    ResponseFailure,
    Transport,
    TransportConfig,
)
from tests.conformance.fake_servers import free_port, read_request_head, serve_raw, serve_wsgi

KEY = "sk_live_0123456789abcdef4242"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def echo_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answers with what it received: the query string and the key headers."""
    body = json.dumps(
        {
            "query": environ.get("QUERY_STRING", ""),
            "auth": environ.get("HTTP_AUTHORIZATION"),
            "x_api_key": environ.get("HTTP_X_API_KEY"),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def transport(base_url: str, **options: Any) -> Transport:
    sleeps: list[float] = options.pop("sleeps", [])
    clock = options.pop("clock", time.time)
    config = TransportConfig(base_url=base_url, **options)
    return Transport(config, Scrubber.of([KEY]), sleep=sleeps.append, clock=clock)


@pytest.mark.parametrize(
    ("style", "field", "expected"),
    [
        (AuthStyle.BEARER, "auth", f"Bearer {KEY}"),
        (AuthStyle.HEADER, "x_api_key", KEY),
        (AuthStyle.QUERY, "query", f"type=ipv4&api_key={KEY}"),
    ],
)
def test_each_auth_style_sends_the_key_and_records_it_redacted(
    style: AuthStyle, field: str, expected: str
) -> None:
    with serve_wsgi(echo_app) as url:
        client = transport(url)
        response = client.get("/x", {"type": "ipv4"}, credentials=Credentials(KEY, style))
    assert json.loads(response.body)[field] == expected
    curl = response.exchange.curl()
    assert KEY not in curl
    assert "sk_live_…4242" in curl
    assert curl.startswith("curl ")
    assert "type=ipv4" in curl


def test_the_curl_line_matches_the_documented_shape() -> None:
    with serve_wsgi(echo_app) as url:
        response = transport(url).get(
            "/api/v1/iocs/sigma", {"type": "ipv4"}, credentials=Credentials(KEY)
        )
    assert response.exchange.curl() == (
        f"curl -H 'Authorization: Bearer sk_live_…4242' '{url}/api/v1/iocs/sigma?type=ipv4'"
    )


def test_the_budget_stops_the_run() -> None:
    with serve_wsgi(echo_app) as url:
        client = transport(url, max_requests=2)
        client.get("/", credentials=Credentials(None))
        client.get("/", credentials=Credentials(None))
        with pytest.raises(BudgetExhausted, match="budget of 2"):
            client.get("/", credentials=Credentials(None))
    assert client.requests_made == 2


def test_a_declared_huge_body_is_refused_unread() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(100 * 1024 * 1024))])
        return iter(())

    with serve_wsgi(app) as url, pytest.raises(ResponseFailure, match="Content-Length"):
        transport(url, max_body_bytes=1024).get("/", credentials=Credentials(None))


def test_an_undeclared_huge_body_is_cut_at_the_limit() -> None:
    sent: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/yaml")])

        def chunks() -> Iterable[bytes]:
            for _ in range(100 * 1024):  # up to 100 MB, if the client kept reading
                sent.append(1)
                yield b"x" * 1024

        return chunks()

    with serve_wsgi(app) as url, pytest.raises(ResponseFailure, match="more than 65536 bytes"):
        transport(url, max_body_bytes=65536).get("/", credentials=Credentials(None))
    assert len(sent) < 100 * 1024


def _gzip_app(payload: bytes) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    compressed = gzip.compress(payload)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/yaml"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", str(len(compressed))),
            ],
        )
        return [compressed]

    return app


def test_a_gzip_body_is_decoded() -> None:
    with serve_wsgi(_gzip_app(b"title: t\n")) as url:
        response = transport(url).get("/", credentials=Credentials(None))
    assert response.body == b"title: t\n"


def test_a_compression_bomb_stops_at_the_decoded_size_limit() -> None:
    # 32 MiB of zeros compress to about 32 KiB: small on the wire, large once decoded.
    with (
        serve_wsgi(_gzip_app(bytes(32 * 1024 * 1024))) as url,
        pytest.raises(ResponseFailure, match="more than 1048576 bytes"),
    ):
        transport(url, max_body_bytes=1024 * 1024).get("/", credentials=Credentials(None))


def test_an_endless_slow_body_hits_the_deadline() -> None:
    def dribble(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/yaml\r\n\r\n")
        for _ in range(200):  # never ends within the test, but does end eventually
            sock.sendall(b"x")
            time.sleep(0.05)

    with serve_raw(dribble) as url:
        client = transport(url, deadline=0.5, read_timeout=5)
        with pytest.raises(ResponseFailure, match="deadline") as caught:
            client.get("/slow", credentials=Credentials(KEY))
    assert caught.value.exchange.error is not None
    assert "/slow" in caught.value.exchange.curl()


def test_a_reset_mid_body_is_a_response_failure() -> None:
    def reset(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    with serve_raw(reset) as url, pytest.raises(ResponseFailure, match="body cut off"):
        transport(url).get("/", credentials=Credentials(None))


def test_an_unreachable_target_is_a_response_failure_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ResponseFailure, match="no response") as caught:
        transport(url, connect_timeout=1).get("/p", credentials=Credentials(KEY))
    assert caught.value.exchange.url == url + "/p"


class RateLimitedApp:
    """Allows ``allowed`` requests, then 429s until the test's fake clock passes ``reset``."""

    def __init__(self, allowed: int, reset: int, now: Callable[[], float]) -> None:
        self.allowed, self.reset, self.now = allowed, reset, now
        self.statuses: list[int] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.now() >= self.reset:
            self.allowed, self.reset = 5, self.reset + 60
        remaining = max(self.allowed - 1, 0)
        status = "200 OK" if self.allowed > 0 else "429 Too Many Requests"
        self.allowed -= 1
        self.statuses.append(int(status[:3]))
        headers = [
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(self.reset)),
        ]
        start_response(status, headers)
        return [b""]


class FakeClock:
    """A clock that moves only when the transport sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_remaining_zero_makes_it_wait_for_the_reset_instead_of_a_429() -> None:
    clock = FakeClock(1_000_000.0)
    app = RateLimitedApp(allowed=2, reset=1_000_030, now=clock.time)
    with serve_wsgi(app) as url:
        config = TransportConfig(base_url=url)
        client = Transport(config, sleep=clock.sleep, clock=clock.time)
        statuses = [client.get("/", credentials=Credentials(KEY)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 200]
    assert 429 not in app.statuses
    assert client.waited_seconds == pytest.approx(30.5)


def test_a_429_is_retried_after_waiting_never_returned() -> None:
    clock = FakeClock(1_000_000.0)
    app = RateLimitedApp(allowed=0, reset=1_000_010, now=clock.time)
    with serve_wsgi(app) as url:
        client = Transport(TransportConfig(base_url=url), sleep=clock.sleep, clock=clock.time)
        response = client.get("/", credentials=Credentials(KEY))
    assert response.status == 200
    assert app.statuses == [429, 200]


def test_a_reset_too_far_away_is_a_harness_error() -> None:
    clock = FakeClock(1_000_000.0)
    app = RateLimitedApp(allowed=0, reset=1_003_600, now=clock.time)
    with serve_wsgi(app) as url:
        config = TransportConfig(base_url=url, max_rate_wait=60)
        client = Transport(config, sleep=clock.sleep, clock=clock.time)
        with pytest.raises(HarnessError, match="rate limited until 1970-01-12T"):
            client.get("/", credentials=Credentials(KEY))
    assert client.waited_seconds == 0
