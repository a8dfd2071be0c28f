"""Server mode's run: probe the target, run the server checks, then the rule checks on what
was fetched, and scrub every key from the result.

The probe (:func:`probe`) is one request with the Pro key (``limit=1``) that decides whether
the run can judge anything, before any budget is spent: a key the server refuses, a base URL
that already ends in the API path, or one where no API answers is the user's to fix (exit 2
or 3 in one line), never a verdict on the server. The ``--free-key``/``--expired-key`` are
the user's claims and are not probed: what the server does with them is judged.

SIGINT/SIGTERM (a ``KeyboardInterrupt``) stop the run between requests: the checks already
run keep their results, the others are skipped as "not run: interrupted", and the result is
marked interrupted (exit 130).

Over 300 lines because the preflight's verdicts (which mistake is whose) belong beside the
run they guard.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from conformance import contract
from conformance.checks import SERVER_CHECK_MODULES
from conformance.checks.document import NO_RULE
from conformance.findings import (
    CheckFailure,
    ConformanceError,
    Finding,
    HarnessError,
    UsageError,
)
from conformance.progress import current
from conformance.redaction import Scrubber, redact_key
from conformance.registry import REGISTRY, CheckSpec
from conformance.results import CheckResult, RunResult
from conformance.runner import (
    collecting,
    count_rules,
    explain_empty,
    new_result,
    reached_rules,
    run_check,
    stop_workers,
)
from conformance.server.config import ServerConfig
from conformance.server.context import ServerContext
from conformance.server.responses import envelope_problems, error_code
from conformance.server.transport import (
    AuthStyle,
    Credentials,
    Response,
    ResponseFailure,
    Transport,
)

if TYPE_CHECKING:
    import requests

    from conformance.rules.documents import RuleSet


def load_server_checks() -> list[CheckSpec]:
    """Import the server check modules (registering them) and return the server checks."""
    for module in SERVER_CHECK_MODULES:
        importlib.import_module(module)
    return REGISTRY.all("server")


def run_server(
    config: ServerConfig,
    *,
    transport: Transport | None = None,
    session: requests.Session | None = None,
    min_rules: int | None = None,
    started: Callable[[], None] | None = None,
) -> RunResult:
    """Run the selected server checks, then the rule checks on the rules fetched.

    ``min_rules`` (``--min-rules``) fails the run when fewer distinct rules were judged.
    When the probe finds that nothing could be judged, the result holds only that
    ``harness_error`` (no check); ``started`` is called once the probe passed.

    ``session`` (or a whole ``transport``) lets tests route requests anywhere, e.g. through a
    WSGI adapter into an app in-process. Keys never leave this function unredacted.
    """
    from conformance.rules.run import RuleCheckOptions, check_rulesets

    scrubber = config.scrubber()
    if transport is None:
        transport = Transport(config.transport_config(), scrubber, session=session)
    specs = selected(config, load_server_checks())
    options = RuleCheckOptions(
        include=config.include,
        exclude=config.exclude,
        targets=config.targets,
        required_targets=config.required(),
        strict=config.strict,
    )
    ctx = ServerContext(config, transport)
    result = RunResult("server", config.base_url, config.seed, config.strict)
    result.max_requests = transport.config.max_requests
    rulesets: list[RuleSet] | None = None
    progress = current()
    progress.begin("requests", "requests", transport.config.max_requests)
    try:
        check_base_url(config.base_url)
        probe(ctx)
    except ConformanceError as exc:
        result.harness_error = str(exc)
        result.requests_made = transport.requests_made
        # No "done" line: the one line saying why nothing could be judged is the whole output.
        return scrub_result(result, scrubber)
    if started is not None:
        started()
    progress.begin("checks", "server checks", len(specs), every=1)
    with collecting() as made:
        try:
            for position, spec in enumerate(specs):
                try:
                    result.checks.append(run_server_check(spec, ctx))
                    status = result.checks[-1].status(strict=config.strict).value
                    progress.advance("checks", item=f"{spec.name}: {status}")
                except HarnessError as exc:
                    result.harness_error = str(exc)
                    result.checks += [_not_run(s, str(exc)) for s in specs[position:]]
                    break
            progress.end("checks")
            if result.harness_error is None:
                _fetch_quietly(ctx)  # usually cached already: the filter checks start from it
                rulesets = rules_to_check(ctx)
                rule_results, result.matrix = check_rulesets(rulesets, options)
                explain_empty(rule_results, NO_RULE)
                result.checks += rule_results
                result.rules_judged = count_rules(rulesets)
        except HarnessError as exc:
            result.harness_error = str(exc)
        except KeyboardInterrupt:
            result.interrupted = True
            if rulesets is None:  # among the server checks: the rest did not run
                done = len(result.checks)
                result.checks += [_not_run(s, "interrupted") for s in specs[done:]]
            else:  # among the rule checks: what they judged so far
                server_names = {s.name for s in specs}
                partial = [r for r in made if r.name not in server_names]
                explain_empty(partial, "not run: interrupted")
                result.checks += partial
                result.rules_judged = reached_rules(partial)
                stop_workers()
    result.requests_made = transport.requests_made
    waited = f"waited {transport.waited_seconds:.0f} s for rate limits"
    progress.end("requests", f"{transport.requests_made} made, {waited}")
    result.require_rules(min_rules)
    return scrub_result(result, scrubber)


def _fetch_quietly(ctx: ServerContext) -> None:
    """Fetch the whole feed for the rule checks when no server check did (errors are moot)."""
    # On failure the rule checks judge whatever was fetched; the server checks said why.
    with contextlib.suppress(CheckFailure, ResponseFailure):
        ctx.universe()


def rules_to_check(ctx: ServerContext) -> list[RuleSet]:
    """The fetched bodies worth the rule checks: each one adding a document not seen yet.

    The whole feed comes first, so the filtered samples, mostly subsets of it, add nothing
    and each rule is parsed and compiled once.
    """
    seen: set[str] = set()
    chosen: list[RuleSet] = []
    for fetched in sorted(ctx.fetched(), key=lambda f: -f.count()):
        texts = {d.text for d in fetched.rules.documents if not d.trailing}
        if fetched.rules.error is not None or not texts <= seen:
            chosen.append(fetched.rules)
            seen |= texts
    return chosen


def _not_run(spec: CheckSpec, reason: str) -> CheckResult:
    result = new_result(spec)
    result.skip(f"not run: {reason}")
    return result


def check_base_url(base_url: str) -> None:
    """UsageError (exit 2) for a base URL that already ends in the API's path: the run would
    ask ``<it>/api/v1/iocs/sigma`` and judge a server on a URL that does not exist."""
    path = urlsplit(base_url).path.rstrip("/")
    parts = contract.SIGMA_PATH.strip("/").split("/")
    # /api/v1/iocs/sigma, /api/v1/iocs, /api/v1 (not /api alone: a server may live there).
    suffixes = ["/" + "/".join(parts[:n]) for n in range(len(parts), 1, -1)]
    for suffix in suffixes:
        if path.endswith(suffix):
            tried = base_url.rstrip("/") + contract.SIGMA_PATH
            root = base_url.rstrip("/")[: -len(suffix)] or base_url
            raise UsageError(
                f"--base-url {base_url} already ends in the path {suffix}: the run would ask "
                f"{tried}; give the server root instead (e.g. --base-url {root})"
            )


def probe(ctx: ServerContext) -> None:
    """One request with the Pro key (``limit=1``) before any check: HarnessError (exit 3) when
    the run could judge nothing (no API answers, the key is refused)."""
    base = ctx.config.base_url
    try:
        response = ctx.transport.get(contract.SIGMA_PATH, {"limit": "1"}, credentials=ctx.pro)
    except ResponseFailure as exc:
        raise HarnessError(
            f"no API answers at {base}: {exc.message} (request: {exc.exchange.curl()})"
        ) from None
    problem = _probe_problem(ctx, response)
    if problem is not None:
        raise HarnessError(problem)


def _probe_problem(ctx: ServerContext, response: Response) -> str | None:
    """Why ``response`` (to the probe) means nothing can be judged, or None to go on."""
    url = response.exchange.url
    status = response.status
    if _is_web_page(response):
        return f"no API answers at {ctx.config.base_url}: GET {url} got HTTP {status}, a web page"
    if status in (401, 403):
        if status == 401 and _header_key_works(ctx):
            return None  # the key is good, the server misreads Bearer: that is judged
        code = error_code(response)
        key = redact_key(ctx.config.api_key)
        named = f"HTTP {status} {code}" if code else f"HTTP {status}, no error code"
        why = ": the key is not a Pro key" if status == 403 else ""
        return f"the server refused --api-key {key} ({named}){why}: check the key"
    if 300 <= status < 400:
        where = response.header("location") or "no Location"
        return (
            f"no API answers at {ctx.config.base_url}: GET {url} is redirected "
            f"({status} to {where})"
        )
    if status in (404, 405, 410):
        envelope = not [p for p, documented in envelope_problems(response) if documented]
        what = "the API's error envelope" if envelope else "not the API's error envelope"
        return f"no API answers at {ctx.config.base_url}: GET {url} got HTTP {status} ({what})"
    return None  # a 200, or an error the checks will judge (a 5xx is the server's failure)


def _is_web_page(response: Response) -> bool:
    start = response.body.lstrip()[:64].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return True
    return response.media_type in ("text/html", "application/xhtml+xml") and start[:1] == b"<"


def _header_key_works(ctx: ServerContext) -> bool:
    """Whether the Pro key gets a 200 as ``X-API-Key`` (one more request, only after a 401)."""
    creds = Credentials(ctx.config.api_key, AuthStyle.HEADER)
    try:
        response = ctx.transport.get(contract.SIGMA_PATH, {"limit": "1"}, credentials=creds)
    except ResponseFailure:
        return False
    return response.status == 200


def run_server_check(spec: CheckSpec, ctx: ServerContext) -> CheckResult:
    """One server check on the live target; HarnessError (could not test) passes through."""
    result = new_result(spec)
    run_check(spec, ctx, result, seed=ctx.seed)
    return result


def scrub_result(result: RunResult, scrubber: Scrubber) -> RunResult:
    """The same result with every key removed from every text it holds."""
    for check_result in result.checks:
        check_result.findings = [_scrub_finding(f, scrubber) for f in check_result.findings]
        check_result.skips = [scrubber.scrub(reason) for reason in check_result.skips]
    result.harness_error = scrubber.scrub_optional(result.harness_error)
    result.subject = scrubber.scrub(result.subject)
    return result


def _scrub_finding(finding: Finding, scrubber: Scrubber) -> Finding:
    repro = finding.reproduction
    return replace(
        finding,
        message=scrubber.scrub(finding.message),
        received=scrubber.scrub_optional(finding.received),
        expected=scrubber.scrub_optional(finding.expected),
        reproduction=replace(
            repro,
            curl=scrubber.scrub_optional(repro.curl),
            document=scrubber.scrub_optional(repro.document),
            source=scrubber.scrub_optional(repro.source),
        ),
    )


def selected(config: ServerConfig, specs: Iterable[CheckSpec]) -> list[CheckSpec]:
    """The server checks ``--check`` / ``--exclude`` leave (names of any scope are valid)."""
    chosen = REGISTRY.select(
        scopes=("document", "collection", "compile", "server"),
        include=config.include,
        exclude=config.exclude,
    )
    names = {c.name for c in chosen}
    return [s for s in specs if s.name in names]
