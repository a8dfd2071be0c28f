"""The Flask app in-process: status codes, the error envelope, headers, bodies, the clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import yaml
from flask import Flask, got_request_exception
from flask.testing import FlaskClient

from mockserver.app import create_app
from mockserver.clock import FixedClock
from mockserver.config import MockConfig, apply_rate_limits
from mockserver.fixtures import load_dataset
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY

PRO = {"Authorization": f"Bearer {PRO_KEY}"}
FREE = {"X-API-Key": FREE_KEY}
SIGMA = "/api/v1/iocs/sigma"
IOCS = "/api/v1/iocs"


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(MockConfig())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_envelope(response: object, status: int, code: str) -> dict[str, object]:
    from werkzeug.test import TestResponse

    assert isinstance(response, TestResponse)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert re.fullmatch(r"req_[0-9a-f]{24}", error["request_id"])
    assert response.headers["X-Request-Id"] == error["request_id"]
    assert set(error) <= {"code", "message", "request_id", "details"}
    assert "sk_live_demo" not in response.get_data(as_text=True)
    return dict(error)


def test_sigma_rules_for_pro(client: FlaskClient) -> None:
    response = client.get(f"{SIGMA}?type=ipv4&confidence=high&limit=5", headers=PRO)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    documents = list(yaml.safe_load_all(response.get_data(as_text=True)))
    assert len(documents) == 5
    assert all(d["level"] == "high" for d in documents)
    assert all(d["logsource"]["category"] == "network_connection" for d in documents)
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit()


def test_key_in_query_and_x_api_key(client: FlaskClient) -> None:
    assert client.get(f"{SIGMA}?limit=1&api_key=sk_live_demo_pro").status_code == 200
    assert client.get(f"{SIGMA}?limit=1", headers={"X-API-Key": PRO_KEY}).status_code == 200


def test_empty_body_when_nothing_matches(client: FlaskClient) -> None:
    for query in ("type=sha512", "type=mitre_attack", "since=2030-01-01T00:00:00Z"):
        response = client.get(f"{SIGMA}?{query}", headers=PRO)
        assert response.status_code == 200
        assert response.data == b""


@pytest.mark.parametrize(
    ("headers", "query", "status", "code"),
    [
        ({}, "", 401, "missing_api_key"),
        ({"Authorization": "Bearer sk_live_nope"}, "", 401, "invalid_api_key"),
        ({"Authorization": "Token sk_live_demo_pro"}, "", 401, "invalid_api_key"),
        ({"X-API-Key": REVOKED_KEY}, "", 401, "invalid_api_key"),
        ({"X-API-Key": EXPIRED_KEY}, "", 401, "expired_api_key"),
        (FREE, "", 403, "insufficient_tier"),
        (PRO, "type=ipv5", 400, "invalid_parameter"),
        (PRO, "limit=0", 400, "invalid_parameter"),
        (PRO, "since=2024-13-01", 400, "invalid_parameter"),
        (PRO, "industry=finance&industry=energy", 400, "invalid_parameter"),
    ],
)
def test_sigma_errors_use_the_envelope(
    client: FlaskClient, headers: dict[str, str], query: str, status: int, code: str
) -> None:
    response = client.get(f"{SIGMA}?{query}", headers=headers)
    error = assert_envelope(response, status, code)
    if status == 400:
        details = error["details"]
        assert isinstance(details, dict)
        assert {"parameter", "allowed"} <= set(details)
    # Every answer carries the headers; a 401 those of the address's anonymous bucket.
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
        response.headers.keys()
    )


def test_404_and_405_use_the_envelope(client: FlaskClient) -> None:
    assert_envelope(client.get("/api/v1/nothing"), 404, "not_found")
    response = client.post(SIGMA, headers=PRO)
    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_unexpected_exception_is_a_logged_500_and_signalled(
    client: FlaskClient,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = app.extensions["socmock"].store

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    seen: list[BaseException] = []

    def record(sender: object, exception: BaseException, **extra: object) -> None:
        seen.append(exception)

    monkeypatch.setattr(store, "select", explode)
    with got_request_exception.connected_to(record, app):
        response = client.get(SIGMA, headers=PRO)
    error = assert_envelope(response, 500, "internal_error")
    assert "boom" not in str(error["message"])
    assert any("boom" in (r.exc_text or "") for r in caplog.records)
    assert [str(e) for e in seen] == ["boom"]


def test_free_key_may_list_iocs_with_its_limits(client: FlaskClient) -> None:
    response = client.get(f"{IOCS}?limit=5000", headers=FREE)
    assert response.status_code == 200
    body = response.get_json()
    assert body["meta"]["limit"] == 100
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for record in body["data"]:
        seen = datetime.fromisoformat(record["first_seen"])
        assert (now - seen).total_seconds() < 86400


def test_iocs_paging_and_links(client: FlaskClient) -> None:
    first = client.get(f"{IOCS}?type=url&limit=7&api_key=sk_live_demo_pro").get_json()
    assert first["meta"]["count"] == 7
    assert "api_key" not in first["links"]["self"]
    assert "sk_live" not in str(first)
    next_link = first["links"]["next"]
    second = client.get(next_link, headers=PRO).get_json()
    assert second["meta"]["offset"] == 7
    assert not {r["id"] for r in first["data"]} & {r["id"] for r in second["data"]}
    record = first["data"][0]
    assert set(record) == {
        "id", "type", "value", "confidence", "first_seen", "last_seen", "source", "context",
        "tags", "mitre_techniques", "industries",
    }  # fmt: skip
    assert {"feed_name", "category"} <= set(record["source"])


def test_sigma_rules_are_the_json_listing_for_the_same_filters(client: FlaskClient) -> None:
    query = "confidence=medium&industry=energy&limit=10000"
    rules = list(yaml.safe_load_all(client.get(f"{SIGMA}?{query}", headers=PRO).data))
    listed = client.get(f"{IOCS}?{query}", headers=PRO).get_json()["data"]
    with_rules = [r["id"] for r in listed if r["type"] not in ("sha512", "mitre-attack")]
    assert [r["id"] for r in rules] == with_rules
    assert len(with_rules) > 10


def test_rate_limit_429_carries_headers() -> None:
    config = MockConfig(tiers=apply_rate_limits(MockConfig().tiers, ["pro=2/minute"]))
    client = create_app(config, dataset=load_dataset()).test_client()
    statuses = [client.get(f"{SIGMA}?limit=1", headers=PRO) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert_envelope(limited, 429, "rate_limit_exceeded")
    assert limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) > 0


def test_clock_hides_iocs_added_later() -> None:
    dataset = load_dataset()
    middle = sorted(i.added for i in dataset.iocs)[1000]
    client = create_app(MockConfig(), dataset=dataset, clock=FixedClock(middle)).test_client()
    body = client.get(f"{IOCS}?limit=10000", headers=PRO).get_json()
    assert body["meta"]["total"] == sum(1 for i in dataset.iocs if i.added <= middle)
    assert body["meta"]["now"] == middle.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_health(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "iocs": 2000}


def test_create_app_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.app import create_app_from_env

    for name in ("SOCMOCK_FIXTURES", "SOCMOCK_KEYS", "SOCMOCK_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOCMOCK_NOW", "2026-01-01T00:00:00Z")
    app = create_app_from_env()
    body = app.test_client().get(IOCS, headers=PRO).get_json()
    assert body["meta"]["now"] == "2026-01-01T00:00:00Z"


def test_every_app_serves_openapi_and_refuses_a_stray_fault_header(client: FlaskClient) -> None:
    document = client.get("/openapi.json")
    assert document.status_code == 200
    assert "/api/v1/iocs/sigma" in document.get_json()["paths"]
    stray = client.get(
        "/api/v1/iocs/sigma", headers={"Authorization": f"Bearer {PRO_KEY}",
                                       "X-Mock-Fault": "503"}
    )  # fmt: skip
    assert_envelope(stray, 403, "fault_injection_refused")
    assert client.get("/_admin/clock").status_code == 404  # no admin without a moving clock


def test_faults_from_the_config_reach_the_app() -> None:
    from mockserver.faults import FaultSettings

    config = MockConfig(faults=FaultSettings.from_options(["502:max=1"]))
    client = create_app(config).test_client()
    headers = {"Authorization": f"Bearer {PRO_KEY}"}
    assert_envelope(client.get("/api/v1/iocs/sigma", headers=headers), 502, "bad_gateway")
    assert client.get("/api/v1/iocs/sigma", headers=headers).status_code == 200


def test_request_ids_are_unique_and_a_forked_worker_does_not_repeat_its_parent() -> None:
    import os

    from mockserver.errors import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"req_[0-9a-f]{24}", child)
    assert child != new_request_id()  # without the re-seed at fork, the two would be equal
