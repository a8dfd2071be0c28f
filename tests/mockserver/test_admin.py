"""``/_admin/clock``: loopback only, present only with a moving clock; the feed grows with it."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mockserver.admin import is_loopback_address
from mockserver.app import create_app
from mockserver.config import MockConfig
from tests.keys import PRO_KEY

PRO = {"Authorization": f"Bearer {PRO_KEY}"}
START = "2026-08-01T00:00:00Z"


@pytest.fixture
def app() -> Flask:
    return create_app(MockConfig(now=START, moving_clock=True))


def rules(client: FlaskClient, **params: Any) -> list[str]:
    response = client.get(
        "/api/v1/iocs/sigma", query_string={"limit": 10000, **params}, headers=PRO
    )
    assert response.status_code == 200
    return [
        line for line in response.get_data(as_text=True).splitlines() if line.startswith("id: ")
    ]


def test_get_and_post_move_the_clock(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/_admin/clock").get_json() == {"now": START, "step": None}
    moved = client.post("/_admin/clock", json={"advance": "7d"})
    assert moved.status_code == 200
    assert moved.get_json()["now"] == "2026-08-08T00:00:00Z"
    assert "X-Request-Id" in moved.headers
    jumped = client.post("/_admin/clock", json={"now": "2026-07-01T12:00:00+02:00"})
    assert jumped.get_json()["now"] == "2026-07-01T10:00:00Z"
    listing = client.get("/api/v1/iocs", headers=PRO).get_json()
    assert listing["meta"]["now"] == "2026-07-01T10:00:00Z"


def test_the_feed_grows_as_the_clock_advances(app: Flask) -> None:
    client = app.test_client()
    before = rules(client)
    client.post("/_admin/clock", json={"advance": "30d"})
    after = rules(client)
    assert len(after) > len(before) > 0
    assert after[: len(before)] == before  # oldest first: the old rules are a prefix
    since_before = rules(client, since=START)
    assert since_before == after[len(before) :]  # since selects exactly the growth


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"advance": "7d", "now": START},
        {"advance": "soon"},
        {"advance": "-1d"},
        {"now": "yesterday"},
        {"now": 5},
        {"advance": "1d", "extra": 1},
        ["advance", "1d"],
        {"now": "x" * 5000},
    ],
)
def test_bad_bodies_are_400_envelopes(app: Flask, body: Any) -> None:
    client = app.test_client()
    response = client.post("/_admin/clock", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter"
    assert len(response.get_data()) < 1000
    assert client.get("/_admin/clock").get_json()["now"] == START  # unchanged


def test_not_json_is_a_400(app: Flask) -> None:
    response = app.test_client().post("/_admin/clock", data="advance=1d")
    assert response.status_code == 400


@pytest.mark.parametrize("address", ["10.0.0.7", "192.168.1.2", "::ffff:10.0.0.1", "2001:db8::1"])
def test_remote_clients_are_refused(app: Flask, address: str) -> None:
    client = app.test_client()
    for method in (client.get, client.post):
        response = method(
            "/_admin/clock", json={"advance": "1d"}, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "admin_refused"
    assert client.get("/_admin/clock").get_json()["now"] == START


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("10.0.0.1", False), ("", False), (None, False), ("localhost", False)],
)  # fmt: skip
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_no_admin_routes_without_a_moving_clock() -> None:
    client = create_app(MockConfig(now=START)).test_client()
    assert client.get("/_admin/clock").status_code == 404
    assert client.post("/_admin/clock", json={"advance": "1d"}).status_code == 404


def test_clock_step_advances_after_each_sigma_answer() -> None:
    app = create_app(MockConfig(now=START, clock_step=timedelta(days=1)))
    client = app.test_client()
    client.get("/api/v1/iocs/sigma", headers=PRO)
    client.get("/api/v1/iocs", headers=PRO)  # the JSON list does not move the clock
    client.get("/api/v1/iocs/sigma", query_string={"type": "nope"}, headers=PRO)  # a 400 neither
    assert client.get("/_admin/clock").get_json() == {"now": "2026-08-02T00:00:00Z", "step": "1d"}


def test_concurrent_advances_all_count(app: Flask) -> None:
    def advance() -> None:
        client = app.test_client()
        for _ in range(20):
            assert client.post("/_admin/clock", json={"advance": "1h"}).status_code == 200

    threads = [threading.Thread(target=advance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert app.test_client().get("/_admin/clock").get_json()["now"] == "2026-08-04T08:00:00Z"


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports, at the top or inside a function."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_admin_and_app_do_not_import_each_other() -> None:
    # Issue 10: both reach the app's state through mockserver.state, which imports neither.
    assert "mockserver.app" not in _imports("mockserver.admin")
    assert {"mockserver.app", "mockserver.admin"}.isdisjoint(_imports("mockserver.state"))
    assert "mockserver.state" in _imports("mockserver.admin")
