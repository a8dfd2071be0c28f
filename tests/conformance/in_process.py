"""Server checks against the mock in-process: a ``requests`` adapter that calls a WSGI app.

No socket and no thread, so a check runs in a fraction of the loopback time: fast enough to
run the filter and ``since`` checks once per mutant (``make mutation``). The transport is the
real one (budget, size caps, the recorded exchanges); only the wire is replaced.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from werkzeug.test import Client

from conformance import contract
from conformance.registry import CheckSpec
from conformance.results import CheckResult
from conformance.server.config import ServerConfig
from conformance.server.context import ServerContext
from conformance.server.run import load_server_checks, run_server_check
from conformance.server.transport import Transport
from tests.conformance.planted import EXPIRED, FREE, PRO, Guard, Plant, feed

BASE_URL = "http://mock.invalid"


class WSGIAdapter(HTTPAdapter):
    """Answers every request by calling ``app``, as a WSGI server would."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.client = Client(app)

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.client.open(
            path=parts.path,
            query_string=parts.query,
            method=request.method or "GET",
            headers=list(request.headers.items()),
            data=body or b"",
        )
        raw = HTTPResponse(
            body=io.BytesIO(answer.get_data()),
            headers=list(answer.headers.items()),
            status=answer.status_code,
            reason=answer.status.partition(" ")[2],
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


def mock_app(plant: Plant | None = None, *, cap: int | None = None) -> tuple[Any, Guard | None]:
    """The real mock (the catalogue's feed), behind ``plant`` when given; ``cap``: the most
    rules one Pro answer holds (the vendor's 10,000 otherwise)."""
    from mockserver.app import create_app
    from mockserver.config import DEFAULT_TIERS, MockConfig

    tiers = tuple(
        replace(t, max_results=cap) if cap is not None and t.name == "pro" else t
        for t in DEFAULT_TIERS
    )
    app = create_app(MockConfig(tiers=tiers), dataset=feed())
    guard = None
    if plant is not None:
        guard = Guard(plant(app.wsgi_app))
        app.wsgi_app = guard  # type: ignore[method-assign]
    return app, guard


def run_checks(
    names: Iterable[str],
    plant: Plant | None = None,
    *,
    strict: bool = False,
    max_examples: int = 10,
    seed: int = 7,
    cap: int | None = None,
) -> dict[str, CheckResult]:
    """Run the named server checks on the mock in-process; results by name."""
    app, guard = mock_app(plant, cap=cap)
    config = ServerConfig(
        base_url=BASE_URL,
        api_key=PRO,
        free_key=FREE,
        expired_key=EXPIRED,
        targets=contract.REQUIRED_TARGETS,
        strict=strict,
        seed=seed,
        max_examples=max_examples,
        max_requests=2_000,
        timeout=20,
    )
    session = Session()
    session.mount(BASE_URL, WSGIAdapter(app))
    ctx = ServerContext(config, Transport(config.transport_config(), config.scrubber(), session))
    specs: dict[str, CheckSpec] = {spec.name: spec for spec in load_server_checks()}
    results = {name: run_server_check(specs[name], ctx) for name in names}
    assert guard is None or not guard.errors, f"the planted rewrite failed: {guard.errors[0]!r}"
    return results
