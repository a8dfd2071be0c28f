"""The fault WSGI middleware: it lets the app answer, then decorates the answer.

It wraps ``app.wsgi_app`` and decorates only 200 answers to ``/api/v1/...`` (a 401 stays a
401). All dice come from one ``random.Random(seed)`` drawn in request order, so a run is
reproducible; every delay is capped.

One class per way an answer is decorated would scatter the one seeded dice stream; they stay
together so the order of draws, which makes runs reproducible, is visible in one file.
"""

from __future__ import annotations

import ipaddress
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from mockserver.errors import (
    APIError,
    BadGateway,
    FaultInjectionRefused,
    InternalError,
    RateLimitExceeded,
    ServiceUnavailable,
    echo,
    envelope,
    new_request_id,
    redact,
)
from mockserver.faults.catalogue import (
    API_PREFIX,
    DRIBBLE_PIECES,
    FAULT_HEADER,
    FAULTS,
    FaultSettings,
    FaultSpec,
    FaultSpecError,
    parse_fault_spec,
)
from mockserver.faults.connections import ARRIVED_KEY, abort_connection
from mockserver.faults.rewrites import rewrite_body, truncation_point

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class Reply:
    """An answer captured from the app, as faults rewrite it."""

    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delivery: FaultSpec | None = None

    def header(self, name: str) -> str | None:
        """Return the first value of a header, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def with_body(self, body: bytes) -> Reply:
        """Return a copy with a new body and a Content-Length to match."""
        kept = tuple((k, v) for k, v in self.headers if k.lower() != "content-length")
        return replace(self, body=body, headers=(*kept, ("Content-Length", str(len(body)))))


@dataclass(frozen=True)
class FaultEvent:
    """A fault fired on the ``request``-th request (1-based) to the API."""

    request: int
    fault: str
    path: str


class InvalidFaultHeader(APIError):
    """400 for an ``X-Mock-Fault`` header the mock cannot read (named as the header it is)."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, received: str, reason: str) -> None:
        """Say which header, what it may hold and (redacted, truncated) what it held."""
        super().__init__(
            f"Invalid value for header '{FAULT_HEADER}': {redact(reason)}.",
            details={"header": FAULT_HEADER, "allowed": list(FAULTS), "received": echo(received)},
        )


#: Headers a 5xx fault or a refusal keeps from the real answer (a 5xx reuses its X-Request-Id).
_KEPT_HEADERS: Final = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_STATUS_ERRORS: Final[Mapping[str, Callable[[], APIError]]] = MappingProxyType({
    "500": lambda: InternalError("Internal server error."),
    "502": lambda: BadGateway("Bad gateway: the upstream server did not answer."),
    "503": lambda: ServiceUnavailable("Service unavailable, try again later."),
})  # fmt: skip


def is_loopback_address(address: str | None) -> bool:
    """Tell whether ``address`` (a REMOTE_ADDR) is loopback, IPv4-mapped IPv6 forms included."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return bool((getattr(ip, "ipv4_mapped", None) or ip).is_loopback)


def error_reply(error: APIError, request_id: str | None = None) -> Reply:
    """Build the answer for ``error`` in the JSON error envelope, with its X-Request-Id."""
    request_id = request_id or new_request_id()
    body = json.dumps(envelope(error, request_id)).encode("utf-8")
    status = f"{error.status} {HTTPStatus(error.status).phrase}"
    headers = (("Content-Type", "application/json"), ("X-Request-Id", request_id))
    return Reply(status, headers, b"").with_body(body)


class FaultMiddleware:
    """WSGI middleware that injects the configured faults into the app's answers.

    Its state (seeded dice, counts, the current 429 burst, the event log) is per instance and
    under one lock: the threaded server calls it from several threads.
    """

    def __init__(
        self,
        app: WSGIApplication,
        settings: FaultSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Wrap ``app``; ``sleep`` and ``clock`` are injectable so tests see every delay."""
        self.app = app
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self.reconfigure(settings)

    def reconfigure(
        self,
        settings: FaultSettings,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Start afresh with new settings (dice, counts, burst, log): one server, many scenarios."""
        with self._lock:
            self.settings = settings
            self._sleep, self._clock = sleep or self._sleep, clock or self._clock
            # Seeded for reproducible runs; nothing here is security-sensitive.
            self._random = random.Random(settings.seed)  # noqa: S311
            self._fired: dict[int, int] = {}
            self._burst_until = 0.0
            self._requests = 0
            self._events: list[FaultEvent] = []

    def events(self) -> tuple[FaultEvent, ...]:
        """Return the faults fired so far, in order."""
        with self._lock:
            return tuple(self._events)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request, with faults if enabled and chosen."""
        environ.setdefault(ARRIVED_KEY, time.time())  # tells the reset fault its connection
        header = environ.get("HTTP_X_MOCK_FAULT")
        requested: FaultSpec | None = None
        if header is not None:
            outcome = self._requested(environ, str(header))
            if isinstance(outcome, Reply):
                return self._send(self._refusal(outcome, environ), environ, start_response)
            requested = outcome
        path = str(environ.get("PATH_INFO", ""))
        if not self.settings.enabled or not path.startswith(API_PREFIX):
            return self.app(environ, start_response)
        reply = self._capture(environ)
        if not reply.status.startswith("200"):
            return self._send(reply, environ, start_response)
        return self._send(self._inject(reply, requested, path), environ, start_response)

    def _requested(self, environ: WSGIEnvironment, header: str) -> FaultSpec | Reply:
        """Parse the ``X-Mock-Fault`` header, or return the refusal to send instead."""
        if not self.settings.enabled or not is_loopback_address(environ.get("REMOTE_ADDR")):
            why = "faults are not enabled" if not self.settings.enabled else "not from loopback"
            return error_reply(FaultInjectionRefused(f"{FAULT_HEADER} is refused: {why}."))
        try:
            # One request asks for one fault: a rate would be meaningless, so it always fires.
            return replace(parse_fault_spec(header), rate=1.0, max_times=None)
        except FaultSpecError as exc:
            return error_reply(InvalidFaultHeader(header, str(exc)))

    def _refusal(self, refusal: Reply, environ: WSGIEnvironment) -> Reply:
        """The refusal of an ``X-Mock-Fault`` header, with the ``X-RateLimit-*`` headers of
        the request it refuses: the request counts like any other (over the limit: the 429)."""
        reply = self._capture(environ)
        if reply.status.startswith("429"):
            return reply
        kept = tuple(h for h in reply.headers if h[0].lower() in _KEPT_HEADERS)
        return replace(refusal, headers=refusal.headers + kept)

    def _capture(self, environ: WSGIEnvironment) -> Reply:
        """Run the app and collect its whole answer."""
        captured: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [(status, headers)]
            return written.append

        iterable = self.app(environ, start)
        try:
            written.extend(iterable)
        finally:
            getattr(iterable, "close", lambda: None)()  # WSGI: always close the app's iterable
        status, headers = captured[0]
        return Reply(status, tuple(headers), b"".join(written))

    def _inject(self, reply: Reply, requested: FaultSpec | None, path: str) -> Reply:
        """Choose the faults for this answer and apply them stage by stage."""
        is_yaml = "yaml" in (reply.header("Content-Type") or "")
        with self._lock:
            self._requests += 1
            number = self._requests
            chosen = self._choose(requested, is_yaml)
            now = self._clock()
            for spec in (s for s in chosen if s.name == "429-burst"):
                self._burst_until = max(self._burst_until, math.ceil(now + spec.duration))
            in_burst = now < self._burst_until
            delays = [
                self._random.uniform(0.0, s.duration) if s.name == "jitter" else s.duration
                for s in chosen
                if s.fault.stage == "delay"
            ]
            self._events.extend(FaultEvent(number, s.name, path) for s in chosen)
            burst_end = self._burst_until
        for delay in delays:
            self._sleep(delay)
        statuses = [s for s in chosen if s.fault.stage == "status" and s.name != "429-burst"]
        if in_burst:
            return self._rate_limited(reply, burst_end)
        if statuses:
            failed = error_reply(_STATUS_ERRORS[statuses[0].name](), reply.header("X-Request-Id"))
            kept = tuple(h for h in reply.headers if h[0].lower() in _KEPT_HEADERS)
            return replace(failed, headers=failed.headers + kept)
        for spec in chosen:
            if spec.fault.stage == "body":
                reply = reply.with_body(rewrite_body(spec.name, reply.body))
        delivery = next((s for s in chosen if s.fault.stage == "delivery"), None)
        return replace(reply, delivery=delivery)

    def _choose(self, requested: FaultSpec | None, is_yaml: bool) -> list[FaultSpec]:
        """Draw which specs fire on this answer (caller holds the lock)."""
        if requested is not None:
            return [] if requested.fault.yaml_only and not is_yaml else [requested]
        chosen = []
        for index, spec in enumerate(self.settings.specs):
            if spec.fault.yaml_only and not is_yaml:
                continue
            if spec.max_times is not None and self._fired.get(index, 0) >= spec.max_times:
                continue
            # Always draw, even at rate 1, so each spec's dice do not depend on the others'.
            if self._random.random() < spec.rate:
                self._fired[index] = self._fired.get(index, 0) + 1
                chosen.append(spec)
        return chosen

    def _rate_limited(self, reply: Reply, reset: float) -> Reply:
        """The 429 answer of a burst, with the vendor's X-RateLimit-* meaning."""
        reason = "Rate limit exceeded: wait until X-RateLimit-Reset before retrying."
        limited = error_reply(RateLimitExceeded(reason), reply.header("X-Request-Id"))
        limit = ("X-RateLimit-Limit", reply.header("X-RateLimit-Limit") or "1")
        headers = (limit, ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", str(int(reset))))
        return replace(limited, headers=limited.headers + headers)

    def _send(
        self, reply: Reply, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Start the response and return the body, delivered as the reply's fault says."""
        if reply.delivery is not None and reply.delivery.name == "reset":
            # Before start_response: granian sends the headers as soon as the app returns.
            abort_connection(environ)
        start_response(reply.status, list(reply.headers))
        if reply.delivery is None:
            return [reply.body]
        if reply.delivery.name == "truncate":
            # A stream, not a list: given the whole (short) body at once, granian drops the
            # connection over the Content-Length it contradicts, at times before sending it.
            return iter([reply.body[: truncation_point(reply.body)]] if reply.body else [])
        return self._dribble(reply.body, reply.delivery.duration)

    def _dribble(self, body: bytes, seconds: float) -> Iterator[bytes]:
        """Yield the body in DRIBBLE_PIECES pieces spread over ``seconds``."""
        size = max(1, math.ceil(len(body) / DRIBBLE_PIECES))
        for offset in range(0, len(body), size):
            if offset:
                self._sleep(seconds / DRIBBLE_PIECES)
            yield body[offset : offset + size]


def install_faults(
    app: Any,
    settings: FaultSettings,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> FaultMiddleware:
    """Wrap a Flask app's ``wsgi_app`` with the fault middleware (kept in ``app.extensions``).

    Installing again only reconfigures it: never two layers, where a disabled inner one would
    refuse the header the outer one allows. ``sleep``/``clock`` replace the timing functions."""
    middleware = app.extensions.get("socdefenders_faults")
    if not isinstance(middleware, FaultMiddleware):
        middleware = app.wsgi_app = FaultMiddleware(app.wsgi_app, settings)
        app.extensions["socdefenders_faults"] = middleware
    middleware.reconfigure(settings, sleep=sleep, clock=clock)
    return middleware
