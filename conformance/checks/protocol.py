"""Protocol checks: authentication, the error envelope, rate-limit headers, media type, bad input.

Each check is a property of the target named for what it holds. What the vendor leaves open
(the 403 code, 400 for bad values, 404 bodies) is reported with ``documented=False``: a warning
unless ``--strict``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from conformance import contract
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import envelope_problems, error_code, excerpt, failure
from conformance.server.transport import AuthStyle, Credentials, Response

_PROBE = {"type": "ipv4", "limit": "5"}


def _expect_auth_error(ctx: ServerContext, creds: Credentials, status: int, code: str) -> None:
    response = ctx.transport.get(contract.SIGMA_PATH, _PROBE, credentials=creds)
    curl = response.exchange.curl()
    if response.status != status:
        raise failure(
            f"expected HTTP {status} with code {code!r}, got HTTP {response.status}",
            curl=curl,
            received=excerpt(response),
            expected=f"HTTP {status}, envelope code {code!r}",
        )
    problems = [p for p, documented in envelope_problems(response) if documented]
    if problems:
        raise failure(
            f"the {status} body is not the error envelope: {'; '.join(problems)}",
            curl=curl,
            received=excerpt(response),
            expected='{"error": {"code", "message", "request_id"}}',
        )
    received_code = error_code(response)
    if received_code != code:
        raise failure(
            f"the {status} envelope has code {received_code!r}, not {code!r}",
            curl=curl,
            received=excerpt(response),
            expected=f"error.code == {code!r}",
        )


def _unknown_key(ctx: ServerContext) -> str:
    """A well-formed key no server has issued (from the run's seed, so repeatable)."""
    return contract.API_KEY_PREFIX + f"{ctx.rng('unknown-key').getrandbits(128):032x}"


@check("server")
def missing_key_is_401_missing_api_key(ctx: ServerContext) -> None:
    """A request without a key gets 401 with code missing_api_key."""
    _expect_auth_error(ctx, Credentials(None), 401, contract.AUTH_ERROR_CODES["missing"])


@check("server")
def unknown_key_is_401_invalid_api_key(ctx: ServerContext) -> None:
    """An unknown or malformed key gets 401 with code invalid_api_key."""
    code = contract.AUTH_ERROR_CODES["invalid"]
    _expect_auth_error(ctx, Credentials(_unknown_key(ctx)), 401, code)
    _expect_auth_error(ctx, Credentials("not a key", AuthStyle.HEADER), 401, code)


@check("server")
def expired_key_is_401_expired_api_key(ctx: ServerContext) -> None:
    """An expired key (``--expired-key``) gets 401 with code expired_api_key."""
    if ctx.config.expired_key is None:
        raise SkipCheck("no expired key given (--expired-key / SOCDEFENDERS_EXPIRED_KEY)")
    code = contract.AUTH_ERROR_CODES["expired"]
    _expect_auth_error(ctx, Credentials(ctx.config.expired_key), 401, code)


@check("server")
def free_key_is_403_on_sigma(ctx: ServerContext) -> Iterator[Finding]:
    """A Free key (``--free-key``) gets 403 and the error envelope (any code) on Sigma."""
    if ctx.config.free_key is None:
        raise SkipCheck("no Free key given (--free-key / SOCDEFENDERS_FREE_KEY)")
    creds = Credentials(ctx.config.free_key)
    response = ctx.transport.get(contract.SIGMA_PATH, _PROBE, credentials=creds)
    if response.status != 403:
        raise failure(
            f"a Free key got HTTP {response.status} on a Pro-only endpoint",
            curl=response.exchange.curl(),
            received=excerpt(response),
            expected="HTTP 403 (Pro only)",
        )
    for problem, documented in envelope_problems(response):
        yield _envelope_finding(response, problem, documented=documented)


@check("server")
def both_key_headers_are_accepted(ctx: ServerContext) -> Iterator[Finding]:
    """``Authorization: Bearer`` and ``X-API-Key`` give the same rules (``api_key=``: warning)."""
    query = {"type": "ipv4", "limit": "50"}
    bearer = ctx.sigma(query)
    header = ctx.sigma(query, credentials=Credentials(ctx.config.api_key, AuthStyle.HEADER))
    if bearer.ids() != header.ids():
        raise failure(
            "X-API-Key and Authorization: Bearer give different rules",
            curl=header.curl,
            received=f"{header.count()} rules via X-API-Key",
            expected=f"the {bearer.count()} rules of {bearer.curl}",
        )
    creds = Credentials(ctx.config.api_key, AuthStyle.QUERY)
    response = ctx.transport.get(contract.SIGMA_PATH, query, credentials=creds)
    if response.status != 200:
        yield Finding(
            "",
            f"the api_key query parameter (listed by the OpenAPI file) got HTTP {response.status}",
            received=excerpt(response),
            expected="HTTP 200, as with the headers",
            documented=False,
        ).with_reproduction(curl=response.exchange.curl())


def _envelope_finding(response: Response, problem: str, *, documented: bool) -> Finding:
    return Finding(
        "",
        f"HTTP {response.status} body: {problem}",
        received=excerpt(response),
        expected='application/json {"error": {"code", "message", "request_id", ["details"]}}',
        documented=documented,
    ).with_reproduction(curl=response.exchange.curl())


@check("server")
def error_bodies_are_the_envelope(ctx: ServerContext) -> Iterator[Finding]:
    """Every 4xx body is the JSON error envelope and never echoes the key it was sent."""
    unknown = _unknown_key(ctx)
    judged = False
    cases: list[tuple[Credentials, dict[str, str], str, bool]] = [
        (Credentials(None), _PROBE, contract.SIGMA_PATH, True),
        (Credentials(unknown, AuthStyle.HEADER), _PROBE, contract.SIGMA_PATH, True),
        (ctx.pro, {"type": "not-a-type"}, contract.SIGMA_PATH, False),
        (ctx.pro, {}, contract.SIGMA_PATH + "/no-such-resource", False),
    ]
    for creds, query, path, documented in cases:
        response = ctx.transport.get(path, query, credentials=creds)
        if not 400 <= response.status < 500:
            continue  # what a non-4xx status means is other checks' business
        judged = True
        for problem, problem_documented in envelope_problems(response):
            yield _envelope_finding(response, problem, documented=documented and problem_documented)
        sent = creds.key or ""
        if sent and sent.encode() in response.body:
            yield Finding(
                "",
                f"the HTTP {response.status} body echoes the API key it was sent",
                received="the key, verbatim, in the body (redacted here)",
                expected="no key in any response",
            ).with_reproduction(curl=response.exchange.curl())
    if not judged:
        raise SkipCheck("no request got a 4xx answer")


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


@check("server")
def media_type_is_yaml(ctx: ServerContext) -> None:
    """Rules come as application/yaml (text/yaml and application/x-yaml are accepted too)."""
    fetched = ctx.universe()
    media_type = fetched.response.media_type
    if media_type not in contract.YAML_MEDIA_TYPES:
        raise failure(
            f"the rules came as {media_type or 'no Content-Type'!r}",
            curl=fetched.curl,
            received=fetched.response.header("content-type"),
            expected=" or ".join(contract.YAML_MEDIA_TYPES),
        )


@check("server")
def invalid_values_are_never_5xx(ctx: ServerContext) -> Iterator[Finding]:
    """A bad parameter value never gets a 5xx (a 400 with the envelope is expected: warning)."""
    from conformance.strategies import sigma_queries

    warnings: dict[str, Finding] = {}

    def answered_without_5xx(query: dict[str, str]) -> None:
        response = ctx.transport.get(contract.SIGMA_PATH, query, credentials=ctx.pro)
        curl = response.exchange.curl()
        if response.status >= 500:
            raise failure(
                f"a bad parameter value got HTTP {response.status}",
                curl=curl,
                received=excerpt(response),
                expected="HTTP 400 with the error envelope; never a 5xx",
            )
        if response.status != 400:
            warnings.setdefault(
                "status",
                Finding(
                    "",
                    f"a bad parameter value got HTTP {response.status}, not 400",
                    received=excerpt(response),
                    expected="HTTP 400 invalid_parameter (the mock's choice; undocumented)",
                    documented=False,
                ).with_reproduction(curl=curl),
            )
            return
        for problem, _ in envelope_problems(response):
            warnings.setdefault("envelope", _envelope_finding(response, problem, documented=False))

    ctx.explore(sigma_queries(valid=False, include_since=False), answered_without_5xx)
    yield from warnings.values()


@check("server")
def unknown_parameters_are_ignored(ctx: ServerContext) -> None:
    """Parameters the contract does not name change nothing."""
    query = {"type": "ipv4", "limit": "50"}
    name = f"zz_{ctx.rng('unknown-parameter').getrandbits(32):08x}"
    plain = ctx.sigma(query)
    extended = ctx.sigma({**query, name: "1", "colour": "blue"})
    if plain.ids() != extended.ids():
        raise failure(
            f"unknown parameters {name!r} and 'colour' changed the rules",
            curl=extended.curl,
            received=f"{extended.count()} rules",
            expected=f"the {plain.count()} rules of {plain.curl}",
        )


@check("server")
def extra_types_are_accepted(ctx: ServerContext) -> None:
    """type=mitre-attack, mitre_attack and sha512 give 200 with no rules or valid rules."""
    for ioc_type in contract.EXTRA_TYPES:
        fetched = ctx.sigma({"type": ioc_type, "limit": str(contract.PRO.max_results)})
        broken = [d for d in fetched.rules.documents if not d.trailing and d.mapping is None]
        if fetched.rules.error is not None or broken:
            why = fetched.rules.error or broken[0].error or "a document is not a mapping"
            raise failure(
                f"type={ioc_type} gave a body that is not rules: {why}",
                curl=fetched.curl,
                document=broken[0].text if broken else None,
                expected="an empty body or valid Sigma rules",
            )


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
        ("no key", Credentials(None), contract.SIGMA_PATH, _PROBE, False),
        ("an unknown key", Credentials(_unknown_key(ctx)), contract.SIGMA_PATH, _PROBE, False),
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
        cases.insert(1, ("a Free key on the Pro endpoint", free, contract.SIGMA_PATH, _PROBE, True))
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
        yield _envelope_finding(response, problem, documented=documented)
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
