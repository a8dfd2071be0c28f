"""The loopback live server: real sockets, errors re-raised in the caller, clean stop."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from flask import Flask

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.liveserver import ErrorRecorder, LiveServer, LiveServerError
from tests.keys import PRO_KEY


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(MockConfig())


def test_serves_on_a_loopback_port(app: Flask) -> None:
    with LiveServer(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        status, body = get(server.url + "/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")
        status, body = get(
            server.url + "/api/v1/iocs/sigma?limit=2", Authorization=f"Bearer {PRO_KEY}"
        )
        assert status == 200
        assert body.count(b"\n---\n") == 1
    with pytest.raises(LiveServerError):
        _ = server.url


def test_view_exception_is_reraised_in_the_caller(app: Flask) -> None:
    broken = create_app(MockConfig())

    def explode() -> None:
        raise ZeroDivisionError("inside the server")

    broken.add_url_rule("/explode", "explode", explode)
    server = LiveServer(broken).start()
    status, body = get(server.url + "/explode")
    assert status == 500
    assert json.loads(body)["error"]["code"] == "internal_error"
    with pytest.raises(ZeroDivisionError, match="inside the server"):
        server.stop()
    server.stop()  # stopping twice is harmless, and errors are raised once


def test_block_error_wins_over_server_error() -> None:
    broken = create_app(MockConfig())
    broken.add_url_rule("/explode", "explode", lambda: 1 / 0)

    def failing_block() -> None:
        with LiveServer(broken) as server:
            get(server.url + "/explode")
            raise KeyError("test failure")

    with pytest.raises(KeyError) as caught:
        failing_block()
    assert any("ZeroDivisionError" in note for note in caught.value.__notes__)


def test_two_servers_do_not_share_a_port(app: Flask) -> None:
    with LiveServer(app) as one, LiveServer(create_app(MockConfig())) as two:
        assert one.port != two.port


@pytest.mark.parametrize("kind", ["granian", "werkzeug"])
def test_access_log_redacts_keys(
    app: Flask, kind: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("INFO", logger="werkzeug")
    with LiveServer(app, access_log=True, server=kind) as server:
        get(server.url + "/api/v1/iocs/sigma?limit=1&api_key=sk_live_demo_pro")
    # granian's log is the mock's own buffered writer (standard error); werkzeug's, logging.
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    lines += capsys.readouterr().err.splitlines()
    assert any("api_key=sk_live_…_pro" in line and " 200 " in line for line in lines), lines
    assert not any(PRO_KEY in line for line in lines)


def test_unknown_server_kind_is_refused(app: Flask) -> None:
    with pytest.raises(LiveServerError, match="unknown server 'gunicorn'"):
        LiveServer(app, server="gunicorn")


def _middleware_app(failure: BaseException, *, in_body: bool = False) -> Flask:
    """An app whose outer WSGI middleware (outside Flask's dispatch) raises ``failure``."""
    app = create_app(MockConfig())
    inner = app.wsgi_app

    def failing(environ: Any, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/boom":
            return inner(environ, start_response)
        if not in_body:
            raise failure

        def body() -> Any:
            start_response("200 OK", [("Content-Length", "10")])
            yield b"12345"
            raise failure

        return body()

    app.wsgi_app = failing  # type: ignore[method-assign]
    return app


@pytest.mark.parametrize("in_body", [False, True])
def test_middleware_exception_is_reraised_in_the_caller(in_body: bool) -> None:
    app = _middleware_app(LookupError("in the recorder"), in_body=in_body)
    server = LiveServer(app).start()
    with contextlib.suppress(urllib.error.URLError, http.client.HTTPException, OSError):
        get(server.url + "/boom")
    assert get(server.url + "/healthz")[0] == 200  # the server still serves
    with pytest.raises(LookupError, match="in the recorder"):
        server.stop()
    assert not isinstance(app.wsgi_app, ErrorRecorder)  # unwrapped on stop


def test_client_disconnects_are_not_server_errors() -> None:
    app = _middleware_app(ConnectionResetError("client went away"))
    with (
        LiveServer(app) as server,
        contextlib.suppress(urllib.error.URLError, http.client.HTTPException, OSError),
    ):
        get(server.url + "/boom")
    # No exception on leaving the block: a ConnectionError is the client's doing.


def test_a_fault_layer_failure_reaches_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.faults import FaultSettings, install_faults, middleware

    app = create_app(MockConfig())
    install_faults(app, FaultSettings(enabled=True))

    def broken(name: str, body: bytes) -> bytes:
        raise RuntimeError("fault layer bug")

    monkeypatch.setattr(middleware, "rewrite_body", broken)
    server = LiveServer(app).start()
    status, _ = get(
        server.url + "/api/v1/iocs/sigma?limit=1",
        Authorization=f"Bearer {PRO_KEY}",
        **{"X-Mock-Fault": "bom-crlf"},
    )
    assert status == 500
    with pytest.raises(RuntimeError, match="fault layer bug"):
        server.stop()
