"""Protocol checks: authentication, the error envelope, media type, bad input (rate limits:
:mod:`conformance.checks.ratelimit`).

Each check is a property of the target named for what it holds. What the vendor leaves open
(the 403 code, 400 for bad values, 404 bodies) is reported with ``documented=False``: a warning
unless ``--strict``.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance import contract
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import envelope_problems, error_code, excerpt, failure
from conformance.server.transport import AuthStyle, Credentials, Response

#: A small, cheap query for checks that only need some answer from the Sigma endpoint.
PROBE = {"type": "ipv4", "limit": "5"}


def _expect_auth_error(ctx: ServerContext, creds: Credentials, status: int, code: str) -> None:
    response = ctx.transport.get(contract.SIGMA_PATH, PROBE, credentials=creds)
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


def unknown_key(ctx: ServerContext) -> str:
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
    _expect_auth_error(ctx, Credentials(unknown_key(ctx)), 401, code)
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
    response = ctx.transport.get(contract.SIGMA_PATH, PROBE, credentials=creds)
    if response.status != 403:
        raise failure(
            f"a Free key got HTTP {response.status} on a Pro-only endpoint",
            curl=response.exchange.curl(),
            received=excerpt(response),
            expected="HTTP 403 (Pro only)",
        )
    for problem, documented in envelope_problems(response):
        yield envelope_finding(response, problem, documented=documented)


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


def envelope_finding(response: Response, problem: str, *, documented: bool) -> Finding:
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
    unknown = unknown_key(ctx)
    judged = False
    cases: list[tuple[Credentials, dict[str, str], str, bool]] = [
        (Credentials(None), PROBE, contract.SIGMA_PATH, True),
        (Credentials(unknown, AuthStyle.HEADER), PROBE, contract.SIGMA_PATH, True),
        (ctx.pro, {"type": "not-a-type"}, contract.SIGMA_PATH, False),
        (ctx.pro, {}, contract.SIGMA_PATH + "/no-such-resource", False),
    ]
    for creds, query, path, documented in cases:
        response = ctx.transport.get(path, query, credentials=creds)
        if not 400 <= response.status < 500:
            continue  # what a non-4xx status means is other checks' business
        judged = True
        for problem, problem_documented in envelope_problems(response):
            yield envelope_finding(response, problem, documented=documented and problem_documented)
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
            warnings.setdefault("envelope", envelope_finding(response, problem, documented=False))

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
