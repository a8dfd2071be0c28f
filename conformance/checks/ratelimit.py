"""Rate-limit checks: the ``X-RateLimit-*`` headers on every answer, their meaning, and the 429
over the limit (tripped once, with a Free key or ``--probe-rate-limit``).

A rate limit is never held against a server for the checker's own requests: the transport waits
for ``X-RateLimit-Reset`` rather than trip a 429, and only the probe here trips one on purpose.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from conformance import contract
from conformance.checks.protocol import PROBE, envelope_finding, unknown_key
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import envelope_problems, error_code, excerpt, failure
from conformance.server.transport import Credentials, Response


def _rate_headers(response: Response) -> dict[str, int] | str:
    values: dict[str, int] = {}
    for name in contract.RATE_LIMIT_HEADERS:
        raw = response.header(name)
        if raw is None:
            return f"{name} is missing"
        try:
            values[name] = int(raw.strip())
        except ValueError:
            return f"{name} is {raw!r}, not an integer"
    return values


@check("server")
def rate_limit_headers_are_coherent(ctx: ServerContext) -> None:
    """X-RateLimit-* are integers, remaining <= limit, reset is Unix time, remaining decreases."""
    seen: list[dict[str, int]] = []
    for _ in range(2):
        response = ctx.transport.get(contract.SIGMA_PATH, {"limit": "1"}, credentials=ctx.pro)
        curl = response.exchange.curl()
        values = _rate_headers(response)
        if isinstance(values, str):
            raise failure(
                values,
                curl=curl,
                received=excerpt(response, 100),
                expected="X-RateLimit-Limit/Remaining/Reset on every response",
            )
        limit, remaining, reset = (values[h] for h in contract.RATE_LIMIT_HEADERS)
        if not 0 <= remaining <= limit:
            raise failure(f"X-RateLimit-Remaining {remaining} is outside 0..{limit}", curl=curl)
        now = _server_time(response)
        if not now - 120 <= reset <= now + 2 * 86_400:
            raise failure(
                f"X-RateLimit-Reset {reset} is not a Unix time (seconds) near the server's "
                f"clock ({int(now)})",
                curl=curl,
                expected="Unix seconds, UTC, within the rate-limit window",
            )
        seen.append(values)
    first, second = seen
    remaining_header, reset_header = contract.RATE_LIMIT_HEADERS[1:]
    rolled = second[reset_header] != first[reset_header]
    if not rolled and second[remaining_header] >= first[remaining_header]:
        raise failure(
            "X-RateLimit-Remaining did not decrease between two requests in the same window",
            received=f"{first[remaining_header]} then {second[remaining_header]}",
            expected="a smaller value after a request",
        )


def _server_time(response: Response) -> float:
    """The server's clock from its Date header, else ours."""
    date = response.header("date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            pass
    return time.time()


def _missing_rate_headers(response: Response) -> str | None:
    """What keeps ``response`` from carrying the three X-RateLimit-* integers, or None."""
    values = _rate_headers(response)
    return values if isinstance(values, str) else None


@check("server")
def rate_limit_headers_on_every_response(ctx: ServerContext) -> Iterator[Finding]:
    """Every answer carries X-RateLimit-Limit/Remaining/Reset: authenticated 4xx included (a
    401, which no key's window covers, and an unknown path: warning)."""
    bad_value = {"type": "not-a-type", "limit": "1"}
    cases: list[tuple[str, Credentials, str, dict[str, str], bool]] = [
        ("a bad parameter value (Pro key)", ctx.pro, contract.SIGMA_PATH, bad_value, True),
        ("no key", Credentials(None), contract.SIGMA_PATH, PROBE, False),
        ("an unknown key", Credentials(unknown_key(ctx)), contract.SIGMA_PATH, PROBE, False),
        (
            "an unknown path (Pro key)",
            ctx.pro,
            contract.SIGMA_PATH + "/no-such-resource",
            {},
            False,
        ),
    ]
    if ctx.config.free_key is not None:
        free = Credentials(ctx.config.free_key)
        cases.insert(1, ("a Free key on the Pro endpoint", free, contract.SIGMA_PATH, PROBE, True))
    for what, creds, path, query, documented in cases:
        response = ctx.transport.get(path, query, credentials=creds)
        problem = _missing_rate_headers(response)
        if problem is None:
            continue
        # A 401 is a documented answer, but rate limits are per key and it names none.
        documented = documented and response.status != 401
        yield Finding(
            "",
            f"HTTP {response.status} for {what}: {problem}",
            received=excerpt(response, 100),
            expected="X-RateLimit-Limit, -Remaining and -Reset (integers) on every response",
            documented=documented,
        ).with_reproduction(curl=response.exchange.curl())


def _rate_limit_probe_key(ctx: ServerContext) -> tuple[Credentials, str, int, bool]:
    """The key to trip, the path to ask, the most requests that may take, and whether it is
    the Free key (SkipCheck when there is none)."""
    if ctx.config.free_key is not None:
        # The JSON endpoint is the Free tier's own: every request there counts, surely.
        free = Credentials(ctx.config.free_key)
        return free, contract.IOCS_PATH, contract.FREE.per_minute + 1, True
    if ctx.config.probe_rate_limit:
        return ctx.pro, contract.SIGMA_PATH, contract.PRO.per_minute + 1, False
    raise SkipCheck(
        "tripping a rate limit needs a Free key (--free-key: at most 11 requests) or "
        "--probe-rate-limit (the Pro key's limit, up to 1,001 requests)"
    )


def _remaining(response: Response) -> int | None:
    values = _rate_headers(response)
    return values["X-RateLimit-Remaining"] if isinstance(values, dict) else None


@check("server")
def over_the_limit_is_429_rate_limit_exceeded(ctx: ServerContext) -> Iterator[Finding]:
    """Over the limit: 429, code rate_limit_exceeded in the envelope, X-RateLimit-* with a
    Reset in the future that, once waited for, lets the key through again."""
    creds, path, most, is_free = _rate_limit_probe_key(ctx)
    transport = ctx.transport
    left = transport.config.max_requests - transport.requests_made
    response = transport.get_once(path, {"limit": "1"}, credentials=creds)
    sent, remaining = 1, _remaining(response)
    if remaining is not None and not is_free:
        # The server's own count says how far the Pro key's limit is.
        most = min(most, remaining + 2)
    if most > left:
        raise SkipCheck(f"tripping the limit may take {most} requests; {left} are left")
    rolled = False
    while response.status != 429 and sent < most:
        response = transport.get_once(path, {"limit": "1"}, credentials=creds)
        sent += 1
        now_remaining = _remaining(response)
        grew = None not in (remaining, now_remaining) and (now_remaining or 0) > (remaining or 0)
        if grew and not rolled:
            # A window that starts afresh mid-probe (a fixed per-minute window) gets one more go.
            rolled, most = True, min(left, most + sent)
        remaining = now_remaining
    curl = response.exchange.curl()
    if response.status != 429:
        raise failure(
            f"{sent} requests in a row with one key, none refused with 429",
            curl=curl,
            received=excerpt(response, 100),
            expected=f"HTTP 429 within {most} requests (the documented per-minute limit)",
        )
    for problem, documented in envelope_problems(response):
        yield envelope_finding(response, problem, documented=documented)
    code = error_code(response)
    if code is not None and code != contract.RATE_LIMIT_CODE:
        yield Finding(
            "",
            f"the 429 envelope has code {code!r}",
            received=excerpt(response),
            expected=f"error.code == {contract.RATE_LIMIT_CODE!r}",
        ).with_reproduction(curl=curl)
    values = _rate_headers(response)
    if isinstance(values, str):
        raise failure(
            f"the 429: {values}",
            curl=curl,
            received=excerpt(response, 100),
            expected="X-RateLimit-* on the 429 too: Reset says when to come back",
        )
    reset, now = values["X-RateLimit-Reset"], _server_time(response)
    if reset <= now - 1:
        raise failure(
            f"the 429's X-RateLimit-Reset {reset} is not in the future (server clock {int(now)})",
            curl=curl,
            expected="the Unix second the key may come back",
        )
    if values["X-RateLimit-Remaining"] != 0:
        yield Finding(
            "",
            f"the 429 says X-RateLimit-Remaining {values['X-RateLimit-Remaining']}",
            expected="0: the window is spent",
            documented=False,
        ).with_reproduction(curl=curl)
    wait = reset - transport.clock() + 0.5
    if wait > transport.config.max_rate_wait:
        return  # judged as far as the run may wait (the re-entry is not)
    transport.wait_until(reset)
    again = transport.get_once(path, {"limit": "1"}, credentials=creds)
    if again.status == 429:
        raise failure(
            f"still 429 after waiting for X-RateLimit-Reset ({reset})",
            curl=again.exchange.curl(),
            received=excerpt(again, 100),
            expected="the key let through once Reset has passed",
        )
