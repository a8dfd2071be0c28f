"""The request journal ``GET/DELETE /_admin/requests``: loopback only, keys redacted, bounded."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from flask import Flask

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.faults import FaultSettings, install_faults
from mockserver.journal import RequestJournal, redact_header, redact_query
from mockserver.liveserver import LiveServer
from tests.keys import PRO_KEY

SECRET = "sk_live_CustomerSecret_7f3a9c"
JOURNAL = "/_admin/requests"


@pytest.fixture
def app() -> Flask:
    return create_app(MockConfig(admin=True))


def journal(app: Flask) -> dict[str, Any]:
    response = app.test_client().get(JOURNAL)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_requests_are_journalled_oldest_first(app: Flask) -> None:
    client = app.test_client()
    client.get("/api/v1/iocs/sigma?type=ipv4&limit=2", headers={"X-API-Key": PRO_KEY})
    client.get("/api/v1/iocs/sigma")
    client.post("/api/v1/iocs")
    body = journal(app)
    assert body["count"] == body["total"] == 3
    assert body["dropped"] == 0
    first, second, third = body["requests"]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/api/v1/iocs/sigma", 200)
    assert first["query"] == {"type": ["ipv4"], "limit": ["2"]}
    assert first["time"].endswith("Z")
    assert first["duration_ms"] >= 0
    assert first["request_id"].startswith("req_")
    assert first["client"] == "127.0.0.1"
    assert second["status"] == 401
    assert (third["method"], third["status"]) == ("POST", 405)


def test_keys_never_appear(app: Flask) -> None:
    client = app.test_client()
    client.get(f"/api/v1/iocs?api_key={SECRET}&apikey={SECRET}")
    client.get("/api/v1/iocs", headers={"Authorization": f"Bearer {SECRET}"})
    client.get("/api/v1/iocs", headers={"X-API-Key": "not-a-key-but-secret", "X-Note": SECRET})
    client.get("/api/v1/iocs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    text = app.test_client().get(JOURNAL).get_data(as_text=True)
    assert "CustomerSecret" not in text
    assert "not-a-key-but-secret" not in text
    assert "dXNlcjpwYXNz" not in text
    entries = json.loads(text)["requests"]
    shown = "sk_live_…" + SECRET[-4:]
    assert entries[0]["query"] == {"api_key": [shown], "apikey": [shown]}
    assert entries[1]["headers"]["Authorization"] == "Bearer " + shown
    assert entries[2]["headers"]["X-Api-Key"] == "[redacted]"
    assert entries[2]["headers"]["X-Note"] == shown
    assert entries[3]["headers"]["Authorization"] == "[redacted]"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", f"Bearer {SECRET}", "Bearer sk_live_…" + SECRET[-4:]),
        ("Authorization", "Bearer opaque-token", "Bearer [redacted]"),
        ("Authorization", "Basic dXNlcjpwYXNz", "[redacted]"),
        ("X-API-Key", "whatever", "[redacted]"),
        ("Cookie", "session=abc", "[redacted]"),
        ("User-Agent", f"client/1 key={SECRET}", "client/1 key=sk_live_…" + SECRET[-4:]),
        ("Accept", "application/yaml", "application/yaml"),
    ],
)
def test_redact_header(name: str, value: str, shown: str) -> None:
    assert redact_header(name, value) == shown


def test_redact_query() -> None:
    assert redact_query(f"type=url&api_key={SECRET}&x=&{SECRET}=1") == {
        "type": ["url"],
        "api_key": ["sk_live_…" + SECRET[-4:]],
        "x": [""],
        "sk_live_…" + SECRET[-4:]: ["1"],
    }
    assert redact_query("a=%ff") == {"a": ["\ufffd"]}  # not UTF-8: shown, never a crash


def test_delete_empties_the_journal(app: Flask) -> None:
    client = app.test_client()
    client.get("/healthz")
    client.get("/healthz")
    cleared = client.delete(JOURNAL)
    assert cleared.status_code == 200
    assert cleared.get_json() == {"cleared": 2}
    assert journal(app)["requests"] == []
    client.get("/healthz")
    assert journal(app)["total"] == 1


def test_admin_requests_are_not_journalled(app: Flask) -> None:
    client = app.test_client()
    client.get(JOURNAL)
    client.delete(JOURNAL)
    client.get("/_admin/nothing")
    assert journal(app)["count"] == 0


def test_the_journal_is_a_bounded_ring() -> None:
    app = create_app(MockConfig(admin=True, journal_size=5))
    client = app.test_client()
    for limit in range(1, 9):
        client.get(f"/healthz?n={limit}")
    body = journal(app)
    assert body["capacity"] == 5
    assert (body["count"], body["total"], body["dropped"]) == (5, 8, 3)
    assert [e["query"]["n"] for e in body["requests"]] == [["4"], ["5"], ["6"], ["7"], ["8"]]


def test_ring_unit() -> None:
    ring = RequestJournal(capacity=2)
    for n in range(3):
        ring.record({"n": n})
    assert [e["n"] for e in ring.snapshot()["requests"]] == [1, 2]
    assert ring.clear() == 2
    assert RequestJournal(capacity=0).capacity == 1


def test_the_status_is_what_the_client_got_after_faults(app: Flask) -> None:
    install_faults(app, FaultSettings.from_options(["503"]))
    client = app.test_client()
    assert client.get("/api/v1/iocs", headers={"X-API-Key": PRO_KEY}).status_code == 503
    assert client.get("/api/v1/iocs", headers={"X-Mock-Fault": "nope"}).status_code == 400
    statuses = [entry["status"] for entry in journal(app)["requests"]]
    assert statuses == [503, 400]


@pytest.mark.parametrize("address", ["10.0.0.7", "192.168.1.2", "::ffff:10.0.0.1", "2001:db8::1"])
def test_remote_clients_are_refused(app: Flask, address: str) -> None:
    client = app.test_client()
    client.get("/healthz")
    for method in (client.get, client.delete):
        response = method(
            JOURNAL, environ_base={"REMOTE_ADDR": address}, headers={"X-Forwarded-For": "127.0.0.1"}
        )
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "admin_refused"
    assert journal(app)["count"] == 1  # the refused DELETE cleared nothing


def test_no_journal_without_admin_routes() -> None:
    client = create_app(MockConfig()).test_client()
    assert client.get(JOURNAL).status_code == 404
    assert client.delete(JOURNAL).status_code == 404


def test_a_moving_clock_turns_the_admin_routes_on() -> None:
    client = create_app(MockConfig(moving_clock=True)).test_client()
    assert client.get(JOURNAL).status_code == 200
    assert client.get("/_admin/clock").status_code == 200


def test_admin_without_a_moving_clock_has_no_clock_route(app: Flask) -> None:
    assert app.test_client().get("/_admin/clock").status_code == 404


def test_the_journal_over_loopback_as_curl_would_use_it() -> None:
    app = create_app(MockConfig(admin=True))
    with LiveServer(app) as server:
        request = urllib.request.Request(
            f"{server.url}/api/v1/iocs/sigma?type=domain&limit=1",
            headers={"Authorization": f"Bearer {SECRET}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        with urllib.request.urlopen(f"{server.url}{JOURNAL}", timeout=10) as answer:
            body = json.loads(answer.read())
        delete = urllib.request.Request(f"{server.url}{JOURNAL}", method="DELETE")
        with urllib.request.urlopen(delete, timeout=10) as answer:
            assert json.loads(answer.read()) == {"cleared": 1}
    (entry,) = body["requests"]
    assert entry["status"] == 401
    assert entry["query"] == {"type": ["domain"], "limit": ["1"]}
    assert entry["headers"]["Authorization"] == "Bearer sk_live_…" + SECRET[-4:]
    assert entry["headers"]["Host"].startswith("127.0.0.1:")
    assert "CustomerSecret" not in json.dumps(body)
