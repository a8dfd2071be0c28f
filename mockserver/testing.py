"""Test helpers for SOC Defenders *clients*: the mock in-process (no socket) or on loopback.

``mock_socdefenders()`` routes every ``requests`` call to ``{base_url}/api/v1/...`` and
``{base_url}/openapi.json`` through ``responses`` into the Flask app's test client, so a
client's own tests run unchanged, offline and without a socket::

    from mockserver.testing import mock_socdefenders

    def test_sync_writes_rules(tmp_path):
        with mock_socdefenders() as mock:
            my_client.sync(api_key=mock.pro_key, out=tmp_path / "rules.yml")
        assert mock.requests[0].headers["Authorization"] == "Bearer " + mock.pro_key

Any other URL fails as ``responses`` fails it (a ConnectionError naming the request), so a
client cannot reach the network by accident. ``live_socdefenders()`` runs the real server on a
loopback port instead, for clients that do not use ``requests`` (urllib, httpx, curl, other
languages). Both are also pytest fixtures (:mod:`mockserver.pytest_plugin`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask
    from requests import PreparedRequest

    from mockserver.config import MockConfig
    from mockserver.faults import FaultMiddleware, FaultSettings

DEFAULT_BASE_URL: Final = "https://socdefenders.ai"
#: The demo keys every mock serves (``soc-mock keys``).
DEMO_KEYS: Final = {
    "pro": "sk_live_demo_pro",
    "free": "sk_live_demo_free",
    "expired": "sk_live_demo_expired",
    "revoked": "sk_live_demo_revoked",
}
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class RecordedRequest:
    """One request a client made to the mock, and the status it got (0: connection reset)."""

    method: str
    url: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    status: int


class InProcessMock:
    """What ``mock_socdefenders()`` yields: the app, its config, the demo keys, the requests."""

    pro_key: Final = DEMO_KEYS["pro"]
    free_key: Final = DEMO_KEYS["free"]
    expired_key: Final = DEMO_KEYS["expired"]
    revoked_key: Final = DEMO_KEYS["revoked"]

    def __init__(self, app: Flask, config: MockConfig, base_url: str) -> None:
        """Serve ``app`` (built from ``config``) at ``base_url``."""
        self.app = app
        self.config = config
        self.base_url = base_url.rstrip("/")
        self._client = app.test_client()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request routed to the app so far, in order."""
        with self._lock:
            return tuple(self._requests)

    @property
    def faults(self) -> FaultMiddleware | None:
        """The app's fault middleware, when installed (its ``events()`` say what fired)."""
        from mockserver.faults import FaultMiddleware

        found = self.app.extensions.get("socdefenders_faults")
        return found if isinstance(found, FaultMiddleware) else None

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` (``/api/v1/iocs/sigma``) on this mock."""
        return self.base_url + path

    def handle(self, request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        """Answer one ``requests`` request through the Flask test client (a responses callback)."""
        import requests

        parts = urlsplit(str(request.url))
        body = request.body or b""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        headers = dict(request.headers)
        try:
            response = self._client.open(
                parts.path,
                base_url=f"{parts.scheme}://{parts.netloc}",
                method=str(request.method),
                query_string=parts.query,
                headers=list(headers.items()),
                data=data,
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )
            payload = response.get_data()
            status = response.status_code
            answer = (status, dict(response.headers.items()), payload)
        except ConnectionResetError as exc:
            # The ``reset`` fault: what a client sees when the server resets the connection.
            status = 0
            failure = requests.exceptions.ConnectionError(exc, request=request)
        self._record(request, parts.path, parts.query, headers, data, status)
        if status == 0:
            raise failure
        return answer

    def _record(
        self,
        request: PreparedRequest,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        status: int,
    ) -> None:
        record = RecordedRequest(
            str(request.method), str(request.url), path, query, dict(headers), body, status
        )
        with self._lock:
            self._requests.append(record)


def _build_app(config: MockConfig | None, faults: FaultSettings | None) -> tuple[Flask, MockConfig]:
    from mockserver.app import create_app
    from mockserver.config import MockConfig
    from mockserver.faults import install_faults

    chosen = config if config is not None else MockConfig()
    app = create_app(chosen)
    if faults is not None:
        install_faults(app, faults)
    return app, chosen


@contextmanager
def mock_socdefenders(
    config: MockConfig | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    faults: FaultSettings | None = None,
) -> Iterator[InProcessMock]:
    """Route ``requests`` calls for ``base_url``'s API into the mock, in-process.

    ``faults`` (optional) turns on fault injection, e.g.
    ``FaultSettings.from_options(["503:max=2"])``. Other URLs raise ``ConnectionError``.
    """
    import responses

    app, chosen = _build_app(config, faults)
    mock = InProcessMock(app, chosen, base_url)
    pattern = re.compile(re.escape(mock.base_url) + r"/(?:api/v1/|openapi\.json(?:\?|$))")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as routes:
        for method in _METHODS:
            routes.add_callback(method, pattern, callback=mock.handle, content_type=None)
        yield mock


class RequestRecorder:
    """WSGI middleware that records each request and its status (the live server's log)."""

    def __init__(self, app: WSGIApplication) -> None:
        """Record the requests ``app`` answers."""
        self.app = app
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request answered so far, in order (status 0: the connection was reset)."""
        with self._lock:
            return tuple(self._requests)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through the wrapped app and record the request.

        The record is written when the status is known, before the body is sent, so a client
        that has its answer can already see it; a reset found later rewrites it to status 0.
        """
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        query = str(environ.get("QUERY_STRING", ""))
        path = str(environ.get("PATH_INFO", ""))
        url = f"http://{headers.get('Host', '')}{path}" + (f"?{query}" if query else "")
        method = str(environ.get("REQUEST_METHOD", "GET"))
        record = RecordedRequest(method, url, path, query, headers, b"", 0)
        slot: list[int] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self._store(slot, replace(record, status=int(status.split(" ", 1)[0])))
            return start_response(status, headers, exc_info)

        try:
            yield from self.app(environ, start)
        except ConnectionError:
            self._store(slot, record)  # status 0: the connection was reset
            raise
        finally:
            if not slot:
                self._store(slot, record)

    def _store(self, slot: list[int], record: RecordedRequest) -> None:
        with self._lock:
            if slot:
                self._requests[slot[0]] = record
            else:
                slot.append(len(self._requests))
                self._requests.append(record)


@dataclass(frozen=True)
class LiveMock:
    """What ``live_socdefenders()`` yields: the server's base URL, app, config and requests."""

    base_url: str
    app: Flask
    config: MockConfig
    recorder: RequestRecorder
    pro_key: str = DEMO_KEYS["pro"]
    free_key: str = DEMO_KEYS["free"]

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request the server answered so far (status 0: connection reset)."""
        return self.recorder.requests

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return self.base_url + path

    def __str__(self) -> str:
        """The base URL, so the object formats as a URL (``f"{live}/api/v1/iocs"``)."""
        return self.base_url


@contextmanager
def live_socdefenders(
    config: MockConfig | None = None, *, faults: FaultSettings | None = None
) -> Iterator[LiveMock]:
    """Run the mock on a free loopback port in a thread; yield its base URL and request log.

    An exception raised in the app while serving is re-raised when the block ends.
    """
    from mockserver.liveserver import LiveServer

    app, chosen = _build_app(config, faults)
    recorder = RequestRecorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    with LiveServer(app) as server:
        yield LiveMock(server.url, app, chosen, recorder)
