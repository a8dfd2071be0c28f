"""``X-RateLimit-*`` on every answer the mock sends, 401s included (issue 8).

A request with an active key counts in its key's bucket; any other request (no key, an
unknown, revoked or expired one, and routes that need none) in its client address's anonymous
bucket. Tested through Flask's client and over a loopback socket, status by status.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from flask import Flask
from requests.structures import CaseInsensitiveDict

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.liveserver import LiveServer
from mockserver.state import state_of
from mockserver.store import IOCStore
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
PRO = {"Authorization": f"Bearer {PRO_KEY}"}
FREE = {"X-API-Key": FREE_KEY}
SIGMA = "/api/v1/iocs/sigma"

#: (method, path, headers, status): one request of each kind of answer the mock gives.
ANSWERS = [
    ("GET", f"{SIGMA}?limit=1", PRO, 200),
    ("GET", "/api/v1/iocs?limit=1", FREE, 200),
    ("GET", "/healthz", {}, 200),
    ("GET", "/openapi.json", {}, 200),
    ("GET", SIGMA, {}, 401),
    ("GET", SIGMA, {"Authorization": "Bearer sk_live_nobody"}, 401),
    ("GET", SIGMA, {"X-API-Key": EXPIRED_KEY}, 401),
    ("GET", SIGMA, {"X-API-Key": REVOKED_KEY}, 401),
    ("GET", SIGMA, FREE, 403),
    ("GET", f"{SIGMA}?limit=-1", PRO, 400),
    ("GET", "/api/v1/nothing", PRO, 404),
    ("GET", "/nothing", {}, 404),
    ("POST", SIGMA, PRO, 405),
    ("DELETE", SIGMA, {}, 405),
]


def assert_headers(headers: Mapping[str, str], status: int, where: str) -> tuple[int, int, int]:
    # Header names are case-insensitive: granian sends them lower-case, werkzeug as written.
    headers = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in HEADERS if name.lower() not in headers]
    assert not missing, f"{where}: {status} answer without {missing}"
    limit, remaining, reset = (int(headers[name.lower()]) for name in HEADERS)
    assert 0 <= remaining <= limit, where
    assert reset >= int(time.time()), f"{where}: Reset {reset} is in the past"
    return limit, remaining, reset


@pytest.fixture
def app() -> Flask:
    return create_app(MockConfig())


@pytest.mark.parametrize(("method", "path", "headers", "status"), ANSWERS)
def test_every_answer_carries_the_headers(
    app: Flask, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = app.test_client().open(path, method=method, headers=headers)
    assert response.status_code == status
    assert_headers(dict(response.headers), status, f"{method} {path}")


def test_unauthenticated_requests_share_their_address_bucket(app: Flask) -> None:
    client = app.test_client()
    answers = [client.get(SIGMA), client.get("/healthz"), client.get(SIGMA, headers=PRO)]
    anonymous = [int(a.headers["X-RateLimit-Remaining"]) for a in answers[:2]]
    assert anonymous[1] == anonymous[0] - 1  # the 401 and /healthz count in one bucket
    assert int(answers[0].headers["X-RateLimit-Limit"]) == 1000  # the default: Pro's figures
    pro = int(answers[2].headers["X-RateLimit-Remaining"])
    assert pro == 999  # the key's own bucket, untouched by the anonymous requests
    other = client.get(SIGMA, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert int(other.headers["X-RateLimit-Remaining"]) == 999  # another address, another bucket


def test_the_anonymous_bucket_is_enforced_and_configurable() -> None:
    config = MockConfig.from_sources({"rate_limit": ["anonymous=2/minute"]})
    assert config.anonymous_rate_limits == "2/minute"
    client = create_app(config).test_client()
    first, second, third = (client.get(SIGMA) for _ in range(3))
    assert [first.status_code, second.status_code] == [401, 401]
    assert [first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]] == [
        "1",
        "0",
    ]
    assert third.status_code == 429
    assert third.get_json()["error"]["code"] == "rate_limit_exceeded"
    assert_headers(dict(third.headers), 429, "over the anonymous limit")
    assert client.get("/healthz").status_code == 429  # one bucket for every route
    assert client.get(SIGMA, headers=PRO).status_code == 200  # a key has its own bucket


def test_a_keys_bucket_is_refused_with_the_headers() -> None:
    config = MockConfig.from_sources({"rate_limit": ["pro=2/minute"]})
    client = create_app(config).test_client()
    statuses = [client.get(f"{SIGMA}?limit=1", headers=PRO) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limit, remaining, _ = assert_headers(dict(statuses[2].headers), 429, "over the Pro limit")
    assert (limit, remaining) == (2, 0)


def test_admin_routes_show_the_bucket_without_counting() -> None:
    client = create_app(MockConfig(admin=True)).test_client()
    before = client.get("/healthz").headers["X-RateLimit-Remaining"]
    for _ in range(3):
        answer = client.get("/_admin/requests")
        assert answer.headers["X-RateLimit-Remaining"] == before
    assert client.get("/healthz").headers["X-RateLimit-Remaining"] == str(int(before) - 1)


def test_an_unexpected_500_carries_the_headers(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(IOCStore, "select", broken)
    response = app.test_client().get(SIGMA, headers=PRO)
    assert response.status_code == 500
    assert_headers(dict(response.headers), 500, "unexpected error")


def test_bad_rate_limit_names_list_anonymous() -> None:
    from mockserver.errors import ConfigError

    with pytest.raises(ConfigError, match="pro, free, anonymous"):
        MockConfig.from_sources({"rate_limit": ["guest=1/minute"]})


# -- over a loopback socket ------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    app = create_app(MockConfig())
    with LiveServer(app) as server:
        yield server


def request(
    server: LiveServer, method: str, path: str, headers: dict[str, str]
) -> tuple[int, CaseInsensitiveDict[str]]:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        response.read()
        # Header names are case-insensitive; granian sends them in lower case.
        return response.status, CaseInsensitiveDict(response.getheaders())
    finally:
        connection.close()


@pytest.mark.parametrize(("method", "path", "headers", "status"), ANSWERS)
def test_every_answer_over_loopback_carries_the_headers(
    live: LiveServer, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    got, answer = request(live, method, path, headers)
    assert got == status
    assert_headers(answer, status, f"{method} {path} over loopback")


def test_429_and_500_over_loopback_carry_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    config = MockConfig.from_sources({"rate_limit": ["anonymous=1/minute"]})
    app = create_app(config)
    with LiveServer(app) as server:
        assert request(server, "GET", SIGMA, {})[0] == 401
        status, headers = request(server, "GET", SIGMA, {})
        assert status == 429
        assert_headers(headers, 429, "429 over loopback")

        current = state_of(app)

        def broken(*_: object, **__: object) -> None:
            raise RuntimeError("planted")

        monkeypatch.setattr(current.store, "select", broken)
        status, headers = request(server, "GET", SIGMA, PRO)
        assert status == 500
        assert_headers(headers, 500, "500 over loopback")
        with pytest.raises(RuntimeError, match="planted"):
            server.check()  # the live server saw the planted error: consume it


def test_config_default_anonymous_limits() -> None:
    assert MockConfig().anonymous_rate_limits == "1000/minute;1000000/day"
    assert replace(MockConfig(), admin=True).admin_routes


#: (faults enabled, X-Mock-Fault, status): the fault layer's own answers, refusals included.
FAULT_ANSWERS = [
    (False, "503", 403),  # faults off: the header is refused
    (True, "not-a-fault", 400),  # an unreadable header
    (True, "503", 503),
    (True, "500", 500),
    (True, "429-burst", 429),
]


@pytest.mark.parametrize(("enabled", "fault", "status"), FAULT_ANSWERS)
def test_fault_answers_and_refusals_over_loopback_carry_the_headers(
    enabled: bool, fault: str, status: int
) -> None:
    from mockserver.faults import FaultSettings

    app = create_app(replace(MockConfig(), faults=FaultSettings(enabled=enabled)))
    with LiveServer(app) as server:
        got, headers = request(server, "GET", f"{SIGMA}?limit=1", {**PRO, "X-Mock-Fault": fault})
        assert got == status
        limit, remaining, _ = assert_headers(headers, status, f"X-Mock-Fault: {fault}")
        if status != 429:
            assert (limit, remaining) == (1000, 999)  # the refused request counted, once
