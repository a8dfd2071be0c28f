"""Server mode's run: probe the target, run the server checks, then the rule checks on what
was fetched, and scrub every key from the result."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from conformance import contract
from conformance.findings import CheckFailure, Finding, HarnessError
from conformance.progress import current
from conformance.redaction import Scrubber
from conformance.registry import REGISTRY, CheckSpec
from conformance.results import CheckResult, RunResult
from conformance.runner import new_result, run_check
from conformance.server.config import ServerConfig
from conformance.server.context import ServerContext
from conformance.server.transport import ResponseFailure, Transport

if TYPE_CHECKING:
    import requests

    from conformance.rules.documents import RuleSet

#: The modules holding the server checks; importing them registers the checks.
SERVER_CHECK_MODULES = (
    "conformance.checks.protocol",
    "conformance.checks.filters",
    "conformance.checks.since",
    "conformance.checks.stability",
    "conformance.checks.crossendpoint",
)


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
) -> RunResult:
    """Run the selected server checks, then the rule checks on the rules fetched.

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
    progress = current()
    progress.begin("requests", "requests", transport.config.max_requests)
    progress.begin("checks", "server checks", len(specs), every=1)
    try:
        probe(ctx)
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
            rule_results, result.matrix = check_rulesets(rules_to_check(ctx), options)
            result.checks += rule_results
    except HarnessError as exc:
        result.harness_error = str(exc)
    result.requests_made = transport.requests_made
    waited = f"waited {transport.waited_seconds:.0f} s for rate limits"
    progress.end("requests", f"{transport.requests_made} made, {waited}")
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


def probe(ctx: ServerContext) -> None:
    """Make sure the target answers at all; HarnessError (exit 3) when it does not."""
    try:
        ctx.transport.get(contract.SIGMA_PATH, {"limit": "1"}, credentials=ctx.pro)
    except ResponseFailure as exc:
        raise HarnessError(
            f"could not test {ctx.config.base_url}: {exc.message} (request: {exc.exchange.curl()})"
        ) from None


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
