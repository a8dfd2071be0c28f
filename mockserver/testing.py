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

:class:`ReferenceServer` is the mock as a *reference* for judging a client (``soc-conformance
client`` drives it): a loopback server with a moving clock, faults switched between runs, a
log of every request with the Sigma bodies it was sent, and :meth:`ReferenceServer.body_for`,
the body the Sigma endpoint gives a Pro key for a query now, without faults or rate limits.

Kept whole (over 300 lines) because it is the one public module for testing clients: its parts
share the recorded-request type, the recorder and the demo keys, and users import one name.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit

from mockserver.errors import MockServerError
from mockserver.fixtures import Dataset

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask
    from requests import PreparedRequest

    from mockserver.clock import MovingClock
    from mockserver.config import MockConfig
    from mockserver.faults import FaultMiddleware, FaultSettings
    from mockserver.liveserver import LiveServer

__all__ = [
    "DEMO_KEYS",
    "Dataset",
    "InProcessMock",
    "LiveMock",
    "MockServerError",
    "RecordedRequest",
    "ReferenceServer",
    "RequestRecorder",
    "live_socdefenders",
    "load_reference_dataset",
    "mock_socdefenders",
]

DEFAULT_BASE_URL: Final = "https://socdefenders.ai"
#: The demo keys every mock serves (``soc-mock keys``).
DEMO_KEYS: Final = {
    "pro": "sk_live_demo_pro",
    "free": "sk_live_demo_free",
    "expired": "sk_live_demo_expired",
    "revoked": "sk_live_demo_revoked",
}
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SIGMA_PATH: Final = "/api/v1/iocs/sigma"


@dataclass(frozen=True)
class RecordedRequest:
    """One request a client made to the mock, and the status it got (0: connection reset).

    The live recorder also notes when the request arrived (``time``, Unix seconds), the
    answer's headers, whether the whole answer was sent (``complete``: False when the
    connection was reset or the body cut short of its Content-Length) and, when asked to
    keep bodies, the bytes actually sent (``response_body``).
    """

    method: str
    url: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    time: float = 0.0
    response_headers: Mapping[str, str] = field(default_factory=dict)
    complete: bool = True
    response_body: bytes = b""


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


#: What a bare install lacks for :func:`mock_socdefenders`, said in one line.
TESTING_EXTRA_MISSING: Final = (
    "the in-process mock needs the [testing] extra (responses, requests): "
    "pip install 'socdefenders-mock[testing]'"
)


def require_responses() -> Any:
    """``responses``, or a one-line ModuleNotFoundError naming the extra that brings it."""
    try:
        import requests  # noqa: F401  (responses needs it; say so before responses does)
        import responses
    except ImportError as exc:
        raise ModuleNotFoundError(f"{TESTING_EXTRA_MISSING} ({exc})", name=exc.name) from None
    return responses


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
    responses = require_responses()
    app, chosen = _build_app(config, faults)
    mock = InProcessMock(app, chosen, base_url)
    pattern = re.compile(re.escape(mock.base_url) + r"/(?:api/v1/|openapi\.json(?:\?|$))")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as routes:
        for method in _METHODS:
            routes.add_callback(method, pattern, callback=mock.handle, content_type=None)
        yield mock


class RequestRecorder:
    """WSGI middleware that records each request and its answer (the live server's log).

    ``keep_bodies`` says which paths' answer bodies to keep (all, none, or a predicate on the
    path): a client checker needs the Sigma bodies, a load test would rather not hold them.
    """

    def __init__(
        self, app: WSGIApplication, *, keep_bodies: bool | Callable[[str], bool] = False
    ) -> None:
        """Record the requests ``app`` answers."""
        self.app = app
        self._keep = keep_bodies if callable(keep_bodies) else (lambda _path: keep_bodies)
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request answered so far, in order (status 0: the connection was reset)."""
        with self._lock:
            return tuple(self._requests)

    def settle(self, timeout: float = 5.0) -> tuple[RecordedRequest, ...]:
        """Wait (at most ``timeout`` s) until no answer is being sent, then return the log.

        A client that saw a reset or a cut body may be done before the server thread has
        noted how the answer ended: a checker reads the log through this.
        """
        with self._lock:
            self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout)
            return tuple(self._requests)

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through the wrapped app and record the request.

        The record is written when the status is known, before the body is sent, so a client
        that has its answer can already see it; it is rewritten when the body has been sent
        (or cut short), and a reset found later rewrites it to status 0.
        """
        arrived = time.time()
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        query = str(environ.get("QUERY_STRING", ""))
        path = str(environ.get("PATH_INFO", ""))
        url = f"http://{headers.get('Host', '')}{path}" + (f"?{query}" if query else "")
        method = str(environ.get("REQUEST_METHOD", "GET"))
        record = RecordedRequest(method, url, path, query, headers, b"", 0, arrived, {}, False)
        keep = self._keep(path)
        slot: list[int] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal record
            answer = {k.title(): v for k, v in headers}
            record = replace(record, status=int(status.split(" ", 1)[0]), response_headers=answer)
            self._store(slot, record)
            return start_response(status, headers, exc_info)

        sent: list[bytes] = []
        size = 0
        with self._lock:
            self._in_flight += 1
        try:
            for chunk in self.app(environ, start):
                size += len(chunk)
                if keep:
                    sent.append(chunk)
                yield chunk
        except ConnectionError:
            record = replace(record, status=0)  # the connection was reset
            raise
        finally:
            promised = record.response_headers.get("Content-Length", "")
            cut = promised.isdigit() and int(promised) > size
            complete = record.status != 0 and not cut
            self._store(slot, replace(record, complete=complete, response_body=b"".join(sent)))
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

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
    config: MockConfig | None = None,
    *,
    faults: FaultSettings | None = None,
    keep_bodies: bool = False,
) -> Iterator[LiveMock]:
    """Run the mock on a free loopback port in a thread; yield its base URL and request log.

    An exception raised in the app (or its middleware) while serving is re-raised when the
    block ends. ``keep_bodies`` keeps each answer's bytes in the log (``response_body``).
    """
    from mockserver.liveserver import LiveServer

    app, chosen = _build_app(config, faults)
    recorder = RequestRecorder(app.wsgi_app, keep_bodies=keep_bodies)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    with LiveServer(app) as server:
        yield LiveMock(server.url, app, chosen, recorder)


def load_reference_dataset(path: Path | None = None) -> Dataset:
    """The IOC dataset a :class:`ReferenceServer` serves (default: the committed fixtures).

    Raises :class:`MockServerError` (with a one-line reason) when the file cannot be used.
    """
    from mockserver.fixtures import load_dataset

    return load_dataset(path)


class _ReadOnlyClock:
    """Another app's clock, read but never ticked (``body_for`` must not move time)."""

    def __init__(self, clock: MovingClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()


#: Rate limits of the app behind ``body_for``: it answers the checker, never a client.
_UNLIMITED: Final = "pro=1000000/second"


class ReferenceServer:
    """The mock as a reference server for judging a client, on a free loopback port.

    ::

        with ReferenceServer(start_before=timedelta(days=300)) as server:
            server.set_faults(["503:max=2"])
            run_my_client(server.url, server.keys["pro"])
            log = server.settle()              # every request, with the Sigma bodies sent
            expected = server.body_for(log[-1].query)
            server.advance("30d")              # the feed grows; the next run sees more

    - ``dataset`` (default: the committed fixtures, or ``fixtures``) is served on a clock that
      starts ``start_before`` before the dataset's reference instant and moves only when told
      (:meth:`advance`).
    - ``rate_limit`` overrides the tiers' limits (``pro=1/1second``), as ``--rate-limit`` does.
    - :meth:`set_faults` replaces the faults (``soc-mock faults`` names them), from the next
      request on; their dice are seeded, so a run repeats.
    - :meth:`body_for` is what the Sigma endpoint answers a Pro key for a query now, from an app
      that shares the dataset, tiers and clock but has no faults, no log and no rate limit:
      what a client should have received. An invalid query gives ``b""``.
    """

    keys: Final = DEMO_KEYS

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        fixtures: Path | None = None,
        start_before: timedelta = timedelta(0),
        rate_limit: str | None = None,
        fault_seed: int = 0,
    ) -> None:
        """Build the apps (nothing listens until the ``with`` block starts the server)."""
        from mockserver.app import create_app
        from mockserver.clock import FixedClock, MovingClock
        from mockserver.config import MockConfig, apply_rate_limits

        chosen = dataset if dataset is not None else load_reference_dataset(fixtures)
        self.dataset = chosen
        self.start = chosen.meta.now - start_before
        config = MockConfig(now=self.start.isoformat(), moving_clock=True)
        if rate_limit:
            config = replace(config, tiers=apply_rate_limits(config.tiers, [rate_limit]))
        self.config = config
        self._clock = MovingClock(FixedClock(self.start))
        self.app: Flask = create_app(config, dataset=chosen, clock=self._clock)
        self.recorder = RequestRecorder(
            self.app.wsgi_app, keep_bodies=lambda path: path == SIGMA_PATH
        )
        self.app.wsgi_app = self.recorder  # type: ignore[method-assign]
        oracle = replace(
            config, moving_clock=False, tiers=apply_rate_limits(config.tiers, [_UNLIMITED])
        )
        self._oracle = create_app(oracle, dataset=chosen, clock=_ReadOnlyClock(self._clock))
        self._fault_seed = fault_seed
        self._server: LiveServer | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``) while the server runs."""
        if self._server is None:
            raise MockServerError("the reference server is not running (use it in a with block)")
        return self._server.url

    def now(self) -> datetime:
        """The server's current instant."""
        return self._clock.now()

    def advance(self, duration: str | timedelta) -> datetime:
        """Move the clock forward (``30d``, ``12h``, or a timedelta); return the new instant."""
        from mockserver.clock import parse_duration

        delta = parse_duration(duration) if isinstance(duration, str) else duration
        return self._clock.advance(delta)

    def set_faults(self, specs: Iterable[str]) -> None:
        """Serve with these faults from now on (none: every answer as it should be)."""
        from mockserver.faults import FaultSettings, install_faults

        install_faults(self.app, FaultSettings.from_options(list(specs), seed=self._fault_seed))

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every request answered so far (status 0: connection reset)."""
        return self.recorder.requests

    def settle(self, timeout: float = 5.0) -> tuple[RecordedRequest, ...]:
        """The request log once no answer is being sent (see :meth:`RequestRecorder.settle`)."""
        return self.recorder.settle(timeout)

    def body_for(self, query: str | Mapping[str, str | Iterable[str]]) -> bytes:
        """The Sigma body a Pro key gets for ``query`` now, faults and rate limits aside.

        ``query`` is a raw query string or a mapping of names to values; an answer other
        than 200 (an invalid value) gives ``b""``.
        """
        if not isinstance(query, str):
            pairs = [
                (name, value)
                for name, values in query.items()
                for value in ([values] if isinstance(values, str) else values)
            ]
            query = urlencode(pairs)
        response = self._oracle.test_client().get(
            SIGMA_PATH,
            query_string=query,
            headers={"Authorization": f"Bearer {self.keys['pro']}"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        return response.get_data() if response.status_code == 200 else b""

    def __enter__(self) -> ReferenceServer:
        """Start serving on a free loopback port."""
        from mockserver.liveserver import LiveServer

        server = LiveServer(self.app)
        server.__enter__()
        self._server = server
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server (an error raised while serving is re-raised here)."""
        server, self._server = self._server, None
        if server is not None:
            server.__exit__(exc_type, exc, traceback)
