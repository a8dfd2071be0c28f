"""mockserver.testing: the in-process mock (responses, no socket) and the loopback one."""

from __future__ import annotations

import socket
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mockserver.config import MockConfig
from mockserver.faults import FaultSettings
from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records
from mockserver.testing import (
    DEMO_KEYS,
    MockServerError,
    ReferenceServer,
    live_socdefenders,
    load_reference_dataset,
    mock_socdefenders,
)
from tests.keys import PRO_KEY

SIGMA = "https://socdefenders.ai/api/v1/iocs/sigma"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> MockConfig:
    path: Path = tmp_path_factory.mktemp("fixtures") / "iocs.json"
    path.write_text(dump_dataset(generate_meta(3, 120), generate_records(3, 120)))
    return MockConfig(fixtures=path)


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_sockets")
def test_requests_reach_the_app_with_no_socket(config: MockConfig) -> None:
    with mock_socdefenders(config) as mock:
        response = requests.get(
            SIGMA,
            params={"type": "ipv4", "limit": 3},
            headers={"Authorization": f"Bearer {mock.pro_key}"},
            timeout=5,
        )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/yaml")
    rules = list(yaml.safe_load_all(response.text))
    assert len(rules) == 3
    assert {r["detection"]["selection"]["DestinationIp"] for r in rules}
    assert "X-RateLimit-Remaining" in response.headers
    (recorded,) = mock.requests
    assert recorded.path == "/api/v1/iocs/sigma"
    assert "type=ipv4" in recorded.query
    assert recorded.headers["Authorization"] == f"Bearer {DEMO_KEYS['pro']}"
    assert recorded.status == 200


@pytest.mark.usefixtures("no_sockets")
def test_errors_and_json_come_through(config: MockConfig) -> None:
    with mock_socdefenders(config) as mock:
        free = requests.get(SIGMA, headers={"X-API-Key": mock.free_key}, timeout=5)
        listed = requests.get(mock.url("/api/v1/iocs"), params={"api_key": mock.pro_key}, timeout=5)
    assert free.status_code == 403
    assert free.json()["error"]["code"] == "insufficient_tier"
    assert listed.status_code == 200
    assert listed.json()["meta"]["total"] > 0
    # Paging links point at the mocked host, so a client can follow them.
    assert listed.json()["links"]["self"].startswith("https://socdefenders.ai/api/v1/iocs")


@pytest.mark.usefixtures("no_sockets")
def test_other_urls_fail_loudly(config: MockConfig) -> None:
    with mock_socdefenders(config), pytest.raises(requests.ConnectionError):
        requests.get("https://elsewhere.example/api/v1/iocs/sigma", timeout=5)


def test_custom_base_url(config: MockConfig) -> None:
    with mock_socdefenders(config, base_url="http://mock.test:9000/") as mock:
        response = requests.get(
            "http://mock.test:9000/api/v1/iocs?limit=1", headers={"X-API-Key": mock.pro_key}
        )
    assert response.status_code == 200


@pytest.mark.usefixtures("no_sockets")
def test_faults_in_process(config: MockConfig) -> None:
    headers = {"Authorization": f"Bearer {PRO_KEY}"}
    with mock_socdefenders(config, faults=FaultSettings(enabled=True)) as mock:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(SIGMA, headers={**headers, "X-Mock-Fault": "truncate"}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(SIGMA, headers={**headers, "X-Mock-Fault": "reset"}, timeout=5)
        unavailable = requests.get(SIGMA, headers={**headers, "X-Mock-Fault": "503"}, timeout=5)
    assert unavailable.status_code == 503
    assert [r.status for r in mock.requests] == [200, 0, 503]
    assert mock.faults is not None
    assert [e.fault for e in mock.faults.events()] == ["truncate", "reset", "503"]


def test_live_server_serves_urllib_and_records(config: MockConfig) -> None:
    with live_socdefenders(config) as live:
        request = urllib.request.Request(
            f"{live}/api/v1/iocs/sigma?limit=2", headers={"X-API-Key": live.pro_key}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        assert live.base_url.startswith("http://127.0.0.1:")
    assert len(list(yaml.safe_load_all(body))) == 2
    (recorded,) = live.requests
    assert (recorded.path, recorded.query, recorded.status) == (
        "/api/v1/iocs/sigma",
        "limit=2",
        200,
    )
    assert recorded.headers["X-Api-Key"] == DEMO_KEYS["pro"]


def test_live_server_errors_reach_the_test(config: MockConfig) -> None:
    def explode() -> str:
        raise RuntimeError("planted failure in a view")

    # The with-block is the subject: the error surfaces when the server stops.
    with pytest.raises(RuntimeError, match="planted failure"), live_socdefenders(config) as live:  # noqa: PT012
        live.app.add_url_rule("/boom", "boom", explode)
        response = requests.get(live.url("/boom"), timeout=10)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"


def test_live_log_has_times_answers_and_what_was_really_sent(config: MockConfig) -> None:
    faults = FaultSettings(enabled=True)
    with live_socdefenders(config, faults=faults, keep_bodies=True) as live:
        headers = {"Authorization": f"Bearer {DEMO_KEYS['pro']}"}
        whole = requests.get(live.url("/api/v1/iocs/sigma"), headers=headers, timeout=10)
        for fault in ("truncate", "reset"):
            with pytest.raises(requests.exceptions.RequestException):
                requests.get(
                    live.url("/api/v1/iocs/sigma"),
                    headers={**headers, "X-Mock-Fault": fault},
                    timeout=10,
                )
        log = live.recorder.settle()
    assert [r.status for r in log] == [200, 200, 0]
    assert [r.complete for r in log] == [True, False, False]
    assert log[0].response_body == whole.content
    assert (
        log[0].response_headers["X-Ratelimit-Remaining"] == whole.headers["X-RateLimit-Remaining"]
    )
    promised = int(log[1].response_headers["Content-Length"])
    assert 0 < len(log[1].response_body) < promised
    assert log[0].time <= log[1].time <= log[2].time


def test_live_log_keeps_no_bodies_unless_asked(config: MockConfig) -> None:
    with live_socdefenders(config) as live:
        requests.get(live.url("/healthz"), timeout=10)
        (record,) = live.recorder.settle()
        assert (record.status, record.complete, record.response_body) == (200, True, b"")
        live.recorder.clear()
        assert live.requests == ()


def test_reference_server_serves_logs_and_knows_the_body_for_a_query() -> None:
    dataset = load_reference_dataset()
    server = ReferenceServer(dataset, start_before=timedelta(days=300), rate_limit="pro=1/1second")
    assert server.now() == dataset.meta.now - timedelta(days=300)
    headers = {"Authorization": f"Bearer {DEMO_KEYS['pro']}"}
    with server:
        server.set_faults(["empty-200"])
        answer = requests.get(
            server.url + "/api/v1/iocs/sigma", params={"type": "ipv4"}, headers=headers, timeout=10
        )
        (logged,) = server.settle()
        # The fault emptied the answer; the body for the query is what it should have been.
        assert (answer.status_code, answer.content, logged.response_body) == (200, b"", b"")
        expected = server.body_for(logged.query)
        assert expected.count(b"\nid: ") > 10
        assert server.body_for({"type": "ipv4"}) == expected
        assert server.body_for({"type": ["ipv4"], "limit": ["1"]}).count(b"\nid: ") == 1
        assert server.body_for("type=nonsense") == b""  # a 400, not a body
        # body_for used no rate limit and no clock tick: the client's next request gets its 200
        # once its own one-per-second window has passed, and the same feed.
        server.set_faults([])
        time.sleep(max(0.0, float(answer.headers["X-RateLimit-Reset"]) - time.time()) + 0.2)
        again = requests.get(
            server.url + "/api/v1/iocs/sigma", params={"type": "ipv4"}, headers=headers, timeout=10
        )
        assert (again.status_code, again.content) == (200, expected)
        assert server.settle()[-1].response_body == expected
        server.advance("30d")
        assert len(server.body_for({"type": "ipv4"})) > len(expected)  # the feed grew
    with pytest.raises(MockServerError, match="not running"):
        _ = server.url


def test_the_demo_keys_are_the_keys_the_mock_serves() -> None:
    """``DEMO_KEYS`` (and so ``tests/keys.py``) is what the committed keys file holds."""
    from mockserver.state import load_keys

    served = {(k.secret, k.tier, k.status) for k in load_keys(MockConfig()) if k.demo}
    assert served == {
        (DEMO_KEYS["pro"], "pro", "active"),
        (DEMO_KEYS["free"], "free", "active"),
        (DEMO_KEYS["expired"], "pro", "expired"),
        (DEMO_KEYS["revoked"], "pro", "revoked"),
    }
