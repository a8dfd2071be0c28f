"""Client checks of traffic: how a client behaved in one scenario (``ScenarioOutcome``).

Each check states a property of a well-behaved client of the documented API and yields a
finding per scenario run that breaks it; ``SkipCheck`` when the scenario gives it nothing to
judge (no 429 was sent, nothing to retry). Timing checks compare the instants requests reached
the server with the ``X-RateLimit-Reset`` the client was given, allowing
:data:`RESET_TOLERANCE` for clocks and scheduling.

Decisions (docs/contract.md leaves them to the checker):

- A key in the query string (``api_key=``, listed by the OpenAPI file) works, but URLs end up
  in proxy and server logs: a warning, not a failure. No key, or a header of another shape
  (``Authorization: Token ...``), is a failure.
- "Backoff" means the gaps between attempts grow: the last gap at least :data:`BACKOFF_GROWTH`
  times the first (random jitter allowed in between), and never an immediate retry.
- A check with nothing to judge in a scenario (the client sent no request, no rule was
  delivered) is skipped there with the reason, never passed.

Kept whole (over 300 lines): one small check per documented behaviour of a client's traffic,
sharing the helpers that read its exchanges; the rules-file checks are ``client_files``.

Over 300 lines: one short check per documented client behaviour, with the timing helpers
they share.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from conformance import contract
from conformance.findings import Finding, Severity, SkipCheck
from conformance.registry import check

if TYPE_CHECKING:
    from conformance.clientmode.outcome import ClientRequest, RunRecord, ScenarioOutcome

RESET_TOLERANCE = 0.25  # seconds a request may precede X-RateLimit-Reset
MAX_ATTEMPTS = 10  # attempts of one request in a row, at most
BACKOFF_GROWTH = 1.3
MIN_RETRY_GAP = 0.05  # seconds: anything faster is an immediate retry
MAX_REFUSED_REQUESTS = 2
_PARAMETERS = {
    contract.SIGMA_PATH: set(contract.SIGMA_PARAMETERS),
    contract.IOCS_PATH: set(contract.SIGMA_PARAMETERS) | set(contract.IOCS_EXTRA_PARAMETERS),
}


def _statuses(exchanges: Sequence[ClientRequest]) -> str:
    shown = [str(e.status or "reset") + ("" if e.complete else " (cut)") for e in exchanges[:12]]
    more = f", … ({len(exchanges)} in all)" if len(exchanges) > 12 else ""
    return ", ".join(shown) + more


def _api(run: RunRecord) -> list[ClientRequest]:
    return [e for e in run.exchanges if e.is_api]


def _require_requests(outcome: ScenarioOutcome) -> None:
    """Skip a check of requests when the client sent none to the API in this scenario."""
    if not any(run.requested for run in outcome.runs):
        raise SkipCheck("the client sent no request to the API")


@check("client")
def sends_the_key_in_a_header(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """The key goes in Authorization: Bearer or X-API-Key (in the URL it leaks: a warning)."""
    _require_requests(outcome)
    for run in outcome.runs:
        for exchange in _api(run):
            bearer = exchange.headers.get("Authorization") == f"Bearer {run.key}"
            header = bearer or exchange.headers.get("X-Api-Key") == run.key
            in_query = run.key in exchange.query.get("api_key", ())
            if header and not in_query:
                continue
            where = "in the query string (api_key=)" if in_query else "in no documented form"
            yield outcome.finding(
                run,
                f"{exchange.path}: the key was sent {where}",
                severity=Severity.WARNING if in_query else Severity.FAILURE,
                received="query: "
                + ", ".join(sorted(exchange.query))
                + "; headers: "
                + ", ".join(sorted(exchange.headers)),
                expected="Authorization: Bearer <key> (or X-API-Key: <key>); never in the URL, "
                "which proxies and access logs keep",
            )
            break  # one finding per run is enough


def _parameter_problem(name: str, values: Sequence[str]) -> str | None:
    from datetime import datetime

    if len(values) != 1:
        return f"{name} given {len(values)} times"
    value = values[0]
    domains = {
        "type": contract.ALL_TYPES,
        "confidence": contract.CONFIDENCES,
        "industry": contract.INDUSTRIES + tuple(contract.INDUSTRY_ALIASES),
    }
    if name in domains and value not in domains[name]:
        return f"{name}={value!r} is not one of {', '.join(domains[name])}"
    if name in ("limit", "offset"):
        low = 1 if name == "limit" else 0
        if not value.isdigit() or int(value) < low:
            return f"{name}={value!r} is not an integer >= {low}"
    if name == "since":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"since={value!r} is not an ISO 8601 timestamp"
        if parsed.tzinfo is None:
            return f"since={value!r} has no time zone (document: e.g. 2024-01-01T00:00:00Z)"
    return None


@check("client")
def sends_only_documented_parameters(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """Every query parameter is documented for its endpoint and has a valid value."""
    _require_requests(outcome)
    for run in outcome.runs:
        for exchange in _api(run):
            allowed = _PARAMETERS.get(exchange.path)
            if allowed is None:
                yield outcome.finding(run, f"request to an undocumented path {exchange.path}")
                break
            problems: list[str] = []
            for key, values in exchange.query.items():
                if key == "api_key":
                    continue  # judged by sends_the_key_in_a_header
                problem = (
                    _parameter_problem(key, values)
                    if key in allowed
                    else f"{key} is not a documented parameter"
                )
                if problem:
                    problems.append(problem)
            if problems:
                yield outcome.finding(
                    run,
                    f"{exchange.path}: " + "; ".join(problems),
                    expected=f"only {', '.join(sorted(allowed))} with documented values",
                )
                break


@check("client")
def refused_key_is_not_retried(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After a 401 or 403 the client stops: at most two requests in that run."""
    runs = [r for r in outcome.runs if any(e.status in (401, 403) for e in _api(r))]
    if not runs:
        raise SkipCheck("no 401/403 in this scenario")
    for run in runs:
        api = _api(run)
        if len(api) > MAX_REFUSED_REQUESTS:
            yield outcome.finding(
                run,
                f"{len(api)} requests after the key was refused",
                received=_statuses(api),
                expected=f"at most {MAX_REFUSED_REQUESTS}: a refused key stays refused",
            )


@check("client")
def fails_loudly_when_it_cannot_sync(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """When the server never delivers the rules, the client exits non-zero with a message."""
    runs = [r for r in outcome.runs if r.step.expect == "failure" and r.exit_code is not None]
    if not runs:
        raise SkipCheck("the scenario always delivers the rules")
    for run in runs:
        if run.exit_code != 0 and run.stderr.strip():
            continue
        said = "exit 0" if run.exit_code == 0 else f"exit {run.exit_code} and nothing on stderr"
        yield outcome.finding(
            run,
            f"the sync failed, yet {said}",
            received=f"answers: {_statuses(_api(run))}; stdout: {run.stdout.strip()[:200]!r}",
            expected="a non-zero exit status and a message on stderr (cron mails it)",
        )


@check("client")
def succeeds_when_the_feed_is_served(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """When the rules can be had (maybe after trouble), the client fetches them and exits 0."""
    runs = [r for r in outcome.runs if r.step.expect == "success" and r.exit_code is not None]
    if not runs:
        raise SkipCheck("no run of this scenario is meant to succeed")
    for run in runs:
        fetched = any(
            e.path == contract.SIGMA_PATH and e.delivered is not None for e in run.exchanges
        )
        if run.exit_code == 0 and fetched:
            continue
        problem = (
            f"exit {run.exit_code} although the rules could be fetched"
            if run.exit_code != 0
            else "exit 0 without one intact answer of the Sigma endpoint"
        )
        yield outcome.finding(
            run,
            problem,
            received=f"answers: {_statuses(_api(run)) or 'none'}; "
            f"stderr: {run.stderr.strip()[-300:]!r}",
            expected=f"a 200 from {contract.SIGMA_PATH} read whole, then exit 0",
        )


@check("client")
def completes_within_the_timeout(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """Every run ends before the timeout (a hung client was killed)."""
    for run in outcome.runs:
        if run.exit_code is None:
            yield outcome.finding(
                run,
                "killed at the timeout",
                received=f"answers: {_statuses(_api(run))}",
                expected="the run ends by itself",
            )


def _waits(outcome: ScenarioOutcome, name: str, *, after_429: bool) -> Iterator[Finding]:
    timeline = [(run, e) for run in outcome.runs for e in _api(run)]
    judged = False
    for position, (run, exchange) in enumerate(timeline[:-1]):
        reset = exchange.response_headers.get("X-Ratelimit-Reset", "")
        if after_429:
            due = exchange.status == 429
        else:
            due = (
                exchange.status != 429
                and exchange.response_headers.get("X-Ratelimit-Remaining") == "0"
            )
        if not due or not reset.isdigit():
            continue
        judged = True
        following = timeline[position + 1][1]
        early = int(reset) - following.time
        if early > RESET_TOLERANCE:
            what = "a 429" if after_429 else "X-RateLimit-Remaining: 0"
            yield outcome.finding(
                run,
                f"next request {early:.2f}s before X-RateLimit-Reset after {what}",
                received=f"reset {reset}, next request at {following.time:.2f}",
                expected="no request before X-RateLimit-Reset (Unix seconds)",
            )
    if not judged:
        raise SkipCheck("no request followed a used-up rate limit")


@check("client")
def waits_for_rate_limit_reset(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After a 429 the next request waits for X-RateLimit-Reset."""
    yield from _waits(outcome, "waits_for_rate_limit_reset", after_429=True)


@check("client")
def stays_within_the_rate_limit(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After X-RateLimit-Remaining: 0 the next request waits for X-RateLimit-Reset."""
    yield from _waits(outcome, "stays_within_the_rate_limit", after_429=False)


def _streaks(run: RunRecord) -> list[list[ClientRequest]]:
    """Runs of attempts at one request: each but the last failed transiently."""
    streaks: list[list[ClientRequest]] = []
    current: list[ClientRequest] = []
    for exchange in _api(run):
        if current and (exchange.path != current[-1].path or not current[-1].transient_failure):
            streaks.append(current)
            current = []
        current.append(exchange)
    if current:
        streaks.append(current)
    return [s for s in streaks if s[0].transient_failure]


@check("client")
def retries_server_errors(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """A 5xx, a reset or a cut body is tried again (at least two attempts)."""
    judged = False
    for run in outcome.runs:
        for streak in _streaks(run):
            judged = True
            if len(streak) < 2:
                yield outcome.finding(
                    run,
                    f"gave up on {streak[0].path} after one failed attempt",
                    received=_statuses(streak),
                    expected="a retry (transient failures pass)",
                )
                break
    if not judged:
        raise SkipCheck("no transient failure in this scenario")


@check("client")
def bounds_its_retries(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """No request is attempted more than ten times in a row."""
    streaks = [(run, s) for run in outcome.runs for s in _streaks(run)]
    if not streaks:
        raise SkipCheck("no transient failure in this scenario")
    for run, streak in streaks:
        if len(streak) > MAX_ATTEMPTS:
            yield outcome.finding(
                run,
                f"{len(streak)} attempts in a row",
                received=_statuses(streak),
                expected=f"at most {MAX_ATTEMPTS}",
            )


@check("client")
def backs_off_between_retries(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """Retries wait, and the waits grow (exponential backoff, jitter allowed)."""
    streaks = [(run, s) for run in outcome.runs for s in _streaks(run) if len(s) > 1]
    if not streaks:
        raise SkipCheck("no retried request in this scenario")
    for run, streak in streaks:
        gaps = [b.time - a.time for a, b in itertools.pairwise(streak)]
        shown = ", ".join(f"{g:.3f}s" for g in gaps)
        if min(gaps) < MIN_RETRY_GAP:
            problem = "an immediate retry"
        elif len(gaps) > 1 and gaps[-1] < BACKOFF_GROWTH * gaps[0]:
            problem = "the waits do not grow"
        else:
            continue
        yield outcome.finding(
            run,
            f"{problem}: gaps {shown}",
            expected=f"gaps of at least {MIN_RETRY_GAP}s, the last >= {BACKOFF_GROWTH}x the first",
        )


@check("client")
def fetches_nothing_twice(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """Across runs, a rule already delivered is not delivered again (it passes ``since``)."""
    if len(outcome.runs) < 2:
        raise SkipCheck("a single run")
    if sum(1 for run in outcome.runs if run.delivered) < 2:
        raise SkipCheck("fewer than two runs were delivered rules")
    seen: set[str] = set()
    for run in outcome.runs:
        again = seen & set(run.delivered)
        if again:
            sent_since = any("since" in e.query for e in _api(run))
            yield outcome.finding(
                run,
                f"{len(again)} rule(s) fetched again" + ("" if sent_since else " (no since sent)"),
                expected="since = the last run's watermark, so only new rules come",
            )
        seen |= set(run.delivered)
