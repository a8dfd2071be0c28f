"""A polite, bounded HTTP client for a target server, recording every exchange.

Every request has connect and read timeouts and a total wall-clock deadline for its response;
bodies are streamed and cut at a maximum size, so a 100 MB body or an endless dribble becomes a
precise :class:`ResponseFailure` rather than a hang or an out-of-memory. It spends a request
budget, reads ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` and waits for the reset rather
than tripping a 429, and retries a 429 after waiting: a rate limit is never the target's failure.

Errors::

    ResponseFailure        one request got no usable response (reset, timeout, too large):
                           the check that made it records a failure
    HarnessError           the run cannot go on: target unreachable from the start,
    └── BudgetExhausted    rate limited for longer than the cap, or the budget is spent

Over 300 lines because the failure modes it turns into findings (resets, timeouts, size and
deadline caps, rate-limit waits) share one streaming read; each has its own branch.
"""

from __future__ import annotations

import enum
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from conformance.findings import CheckFailure, Finding, HarnessError, Reproduction
from conformance.progress import current
from conformance.redaction import Scrubber, redact_key

if TYPE_CHECKING:
    import requests

#: How much of a body an exchange keeps for reports.
EXCERPT_BYTES = 2_000
_CHUNK = 64 * 1024


class AuthStyle(enum.Enum):
    """Where the key travels."""

    BEARER = "bearer"  # Authorization: Bearer <key> (the vendor's recommendation)
    HEADER = "x-api-key"  # X-API-Key: <key>
    QUERY = "query"  # ?api_key=<key> (listed by the OpenAPI file only)


@dataclass(frozen=True)
class Credentials:
    """A key and where to send it; ``key=None`` sends no key at all."""

    key: str | None
    style: AuthStyle = AuthStyle.BEARER

    def apply(self, headers: dict[str, str], params: list[tuple[str, str]]) -> None:
        """Put the key where its style says."""
        if self.key is None:
            return
        if self.style is AuthStyle.BEARER:
            headers["Authorization"] = f"Bearer {self.key}"
        elif self.style is AuthStyle.HEADER:
            headers["X-API-Key"] = self.key
        else:
            params.append(("api_key", self.key))


@dataclass(frozen=True)
class TransportConfig:
    """Limits and politeness settings of one run."""

    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    deadline: float = 60.0  # total seconds for one response, headers to last byte
    max_body_bytes: int = 64 * 1024 * 1024
    # Bodies are kept for the checks, so the run as a whole needs a bound too: many answers
    # each under max_body_bytes must not add up to gigabytes.
    max_total_bytes: int = 256 * 1024 * 1024
    max_requests: int = 1_000
    max_rate_wait: float = 90.0  # longest wait for a rate-limit reset before giving up
    max_429_retries: int = 3


class ResponseFailure(CheckFailure):
    """A request got no usable response; carries the recorded exchange.

    Inside a check it is that check's finding (the target failed to answer), so the one
    runner treats it like any ``CheckFailure``; outside one (the preflight) it is read as
    a reason the target could not be tested.
    """

    def __init__(self, message: str, exchange: Exchange) -> None:
        finding = Finding(
            "",
            f"no usable response: {message}",
            received=message,
            expected="a complete HTTP response within the run's time and size limits",
            reproduction=Reproduction(curl=exchange.curl()),
        )
        super().__init__(finding)
        self.message = message
        self.exchange = exchange


class BudgetExhausted(HarnessError):
    """The run's request budget (``--max-requests``) is spent."""


@dataclass(frozen=True)
class Exchange:
    """One request and what came back, with every key already redacted."""

    method: str
    url: str  # base URL and path, no query string
    params: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    body_excerpt: str = ""
    error: str | None = None

    def full_url(self) -> str:
        """The URL with its query string."""
        if not self.params:
            return self.url
        # A redacted key's ellipsis stays readable rather than percent-encoded.
        return f"{self.url}?{urlencode(self.params, safe=':')}".replace("%E2%80%A6", "…")

    def curl(self) -> str:
        """A shell line that repeats the request (keys redacted)."""
        parts = ["curl"]
        for name, value in self.request_headers:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        parts.append(shlex.quote(self.full_url()))
        return " ".join(parts)

    def summary(self) -> str:
        """One line: status (or error) and the request."""
        outcome = str(self.status) if self.error is None else self.error
        return f"{self.method} {self.full_url()} -> {outcome}"


@dataclass(frozen=True)
class Response:
    """A complete response: status, headers (lower-cased names) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    exchange: Exchange

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class _RateState:
    """What the last response told us about one key's rate limit."""

    remaining: int | None = None
    reset: float | None = None


@dataclass
class Transport:
    """Sends requests to the target within the run's limits; one instance per run."""

    config: TransportConfig
    scrubber: Scrubber = field(default_factory=Scrubber)
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    requests_made: int = 0
    bytes_received: int = 0
    waited_seconds: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)
    _rate: dict[str | None, _RateState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.session is None:
            import requests  # a heavy import, only when a run starts

            self.session = requests.Session()
        self.session.trust_env = False  # never route a check through a user's proxy by surprise

    def get(
        self,
        path: str,
        params: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        *,
        credentials: Credentials,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET ``path`` with ``params``; waits out rate limits and retries 429s.

        Raises :class:`ResponseFailure` when no usable response arrives, and
        :class:`~conformance.findings.HarnessError` when the run cannot continue.
        """
        query = list(params.items()) if isinstance(params, Mapping) else list(params)
        for _attempt in range(self.config.max_429_retries + 1):
            self._wait_for_quota(credentials.key)
            response = self._send(path, query, credentials, extra_headers or {})
            self._remember_rate(credentials.key, response)
            if response.status != 429:
                return response
            self._wait_after_429(credentials.key, response)
        raise HarnessError(
            f"could not test: still rate limited (429) after {self.config.max_429_retries} "
            f"retries: {response.exchange.summary()}"
        )

    def get_once(
        self, path: str, params: Mapping[str, str], *, credentials: Credentials
    ) -> Response:
        """One GET with no waiting and no retry, even over the limit (the 429 probe's own
        request); what its headers say is remembered for the polite requests that follow."""
        response = self._send(path, list(params.items()), credentials, {})
        self._remember_rate(credentials.key, response)
        return response

    def wait_until(self, reset: float) -> float:
        """Wait for a rate-limit ``reset`` (Unix seconds), within ``max_rate_wait`` (else
        HarnessError); the seconds waited."""
        before = self.waited_seconds
        self._wait_until(reset)
        return self.waited_seconds - before

    # -- politeness -------------------------------------------------------------------------

    def _wait_for_quota(self, key: str | None) -> None:
        state = self._rate.get(key)
        if state is None or state.remaining is None or state.remaining > 0:
            return
        if state.reset is not None:
            self._wait_until(state.reset)
        state.remaining = None  # the window has rolled: trust the next response's headers

    def _wait_after_429(self, key: str | None, response: Response) -> None:
        state = self._rate.get(key)
        reset = state.reset if state is not None else None
        if reset is None or reset <= self.clock():
            self._pause(1.0)  # no usable Reset header: a short, bounded back-off
        else:
            self._wait_until(reset)

    def _wait_until(self, reset: float) -> None:
        wait = reset - self.clock() + 0.5  # the reset second itself may still be in the window
        if wait <= 0:
            return
        if wait > self.config.max_rate_wait:
            until = datetime.fromtimestamp(reset, UTC).isoformat(timespec="seconds")
            raise HarnessError(
                f"could not test: rate limited until {until} ({wait:.0f} s away, more than the "
                f"{self.config.max_rate_wait:.0f} s this run may wait)"
            )
        current().note(f"waiting {wait:.0f} s for X-RateLimit-Reset")
        self._pause(wait)

    def _pause(self, seconds: float) -> None:
        self.waited_seconds += seconds
        self.sleep(seconds)

    def _remember_rate(self, key: str | None, response: Response) -> None:
        remaining = _as_int(response.header("x-ratelimit-remaining"))
        reset = _as_int(response.header("x-ratelimit-reset"))
        if remaining is None and response.status != 429:
            return
        state = self._rate.setdefault(key, _RateState())
        state.remaining = 0 if response.status == 429 else remaining
        state.reset = float(reset) if reset is not None else None

    # -- the wire ---------------------------------------------------------------------------

    def _send(
        self,
        path: str,
        query: list[tuple[str, str]],
        credentials: Credentials,
        extra_headers: Mapping[str, str],
    ) -> Response:
        import requests

        if self.requests_made >= self.config.max_requests:
            raise BudgetExhausted(
                f"could not test: the request budget of {self.config.max_requests} requests "
                "is spent (raise --max-requests)"
            )
        self.requests_made += 1
        current().advance("requests")
        headers = {"Accept": "application/yaml, application/json;q=0.9, */*;q=0.1"}
        headers.update(extra_headers)
        wire_params = list(query)
        credentials.apply(headers, wire_params)
        url = self.config.base_url.rstrip("/") + path
        exchange = self._record(url, wire_params, headers, credentials)
        started = time.monotonic()
        assert self.session is not None
        try:
            raw = self.session.get(
                url,
                params=wire_params,
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._failure(exchange, f"no response: {_describe(exc)}") from None
        try:
            body = self._read_body(raw, started, exchange)
        finally:
            raw.close()
        done = _with_response(exchange, raw.status_code, raw.headers, body, self.scrubber)
        self._keep(done)
        current().detail(done.summary())
        return Response(
            status=raw.status_code,
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=body,
            exchange=done,
        )

    def _read_body(self, raw: requests.Response, started: float, exchange: Exchange) -> bytes:
        import requests
        from urllib3.exceptions import HTTPError

        limit, deadline = self.config.max_body_bytes, started + self.config.deadline
        declared = _as_int(raw.headers.get("Content-Length"))
        if declared is not None and declared > limit:
            raise self._failure(
                exchange, f"body too large: Content-Length {declared} bytes, limit {limit}"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                # read1 returns what one socket read gives, so a slow dribble still comes back
                # to this loop, where the deadline is enforced. It undoes a Content-Encoding
                # (requests offers gzip and deflate), so the size limit applies to the decoded
                # bytes the checks will hold: a compression bomb stops at the limit too.
                chunk = raw.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                self.bytes_received += len(chunk)
                if self.bytes_received > self.config.max_total_bytes:
                    raise HarnessError(
                        f"could not test: the target sent more than "
                        f"{self.config.max_total_bytes} bytes in this run"
                    )
                if size > limit:
                    raise self._failure(exchange, f"body too large: more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise self._failure(
                        exchange,
                        f"body incomplete after the {self.config.deadline:.0f} s deadline "
                        f"({size} bytes received)",
                    )
                chunks.append(chunk)
        except (requests.RequestException, HTTPError, OSError, ValueError) as exc:
            # urllib3's ProtocolError (a reset mid-body) is an HTTPError, not an OSError.
            raise self._failure(exchange, f"body cut off: {_describe(exc)}") from None
        return b"".join(chunks)

    def _record(
        self,
        url: str,
        params: list[tuple[str, str]],
        headers: Mapping[str, str],
        credentials: Credentials,
    ) -> Exchange:
        key = credentials.key
        shown_params = tuple((n, redact_key(v) if v == key else v) for n, v in params)
        shown_headers = tuple(
            (n, self.scrubber.scrub(v.replace(key, redact_key(key)) if key else v))
            for n, v in headers.items()
            if n != "Accept"
        )
        return Exchange("GET", url, shown_params, shown_headers)

    def _failure(self, exchange: Exchange, message: str) -> ResponseFailure:
        failed = Exchange(
            exchange.method,
            exchange.url,
            exchange.params,
            exchange.request_headers,
            error=self.scrubber.scrub(message),
        )
        self._keep(failed)
        return ResponseFailure(failed.error or message, failed)

    def _keep(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)


def _with_response(
    exchange: Exchange,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    scrubber: Scrubber,
) -> Exchange:
    excerpt = scrubber.scrub(body[:EXCERPT_BYTES].decode("utf-8", errors="replace"))
    return Exchange(
        exchange.method,
        exchange.url,
        exchange.params,
        exchange.request_headers,
        status=status,
        response_headers=tuple((k, scrubber.scrub(v)) for k, v in headers.items()),
        body_excerpt=excerpt,
    )


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    """A short, key-free description of a network error."""
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text[:300]}" if text else name
