"""A diff run: survey both sides, draw (or read) the queries, ask both, compare, report.

Each side has its own polite, bounded transport (the checker's: budget, timeouts, size caps,
waiting on ``X-RateLimit-Reset``), so ``--max-requests`` holds per side. A side that cannot
answer the survey (the whole feed) with a 200 cannot be tested: exit 3. A difference seen in
several queries (the same rule's fields, the same Reset unit) is reported once, with the
number of queries it was seen in and the curl lines of the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from conformance import contract
from conformance.diff.compare import CHECKS, Answer, compare
from conformance.diff.config import DiffConfig
from conformance.diff.queries import WHOLE, Query, draw, from_cassette, past_the_newest
from conformance.findings import Finding, HarnessError
from conformance.results import CheckResult, RunResult
from conformance.server.responses import Fetched, error_code
from conformance.server.transport import (
    BudgetExhausted,
    Credentials,
    Response,
    ResponseFailure,
    Transport,
)

if TYPE_CHECKING:
    import requests

SCOPE = "diff"


@dataclass
class _Seen:
    """A difference and where it was seen (queries, rules); reported once."""

    finding: Finding
    queries: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)

    def reported(self, seed: int) -> Finding:
        """The finding, its message saying how widely the difference was seen."""
        where = []
        if len(self.rules) > 1:
            where.append(f"{len(self.rules)} rules")
        if len(self.queries) > 1:
            where.append(f"{len(self.queries)} queries")
        message = self.finding.message + (f" [in {', '.join(where)}]" if where else "")
        return replace(
            self.finding,
            message=message,
            reproduction=replace(self.finding.reproduction, seed=seed),
        )


@dataclass
class Side:
    """One server under comparison."""

    label: str
    base_url: str
    transport: Transport
    credentials: Credentials

    def ask(self, query: Query) -> Answer:
        """The side's answer to ``query`` (a failed request is an answer without response)."""
        try:
            response = self.transport.get(contract.SIGMA_PATH, query, credentials=self.credentials)
        except ResponseFailure as exc:
            return Answer(self.label, exc.exchange.curl(), failure=exc.message)
        return Answer(self.label, response.exchange.curl(), response=response)

    def survey(self) -> Response:
        """The whole feed; raises HarnessError when the side cannot be tested."""
        try:
            response = self.transport.get(contract.SIGMA_PATH, WHOLE, credentials=self.credentials)
        except ResponseFailure as exc:
            raise HarnessError(
                f"side {self.label} ({self.base_url}) cannot be tested: {exc.message}"
            ) from None
        except HarnessError as exc:
            raise HarnessError(f"side {self.label} ({self.base_url}): {exc}") from None
        if response.status != 200:
            code = error_code(response)
            raise HarnessError(
                f"side {self.label} ({self.base_url}) cannot be tested: the whole feed answered "
                f"HTTP {response.status}" + (f" {code}" if code else "")
            )
        return response


def _days(responses: list[Response]) -> list[date]:
    days: set[date] = set()
    for response in responses:
        for identity in Fetched.of(response).identities:
            if identity is not None and identity.date:
                try:
                    days.add(date.fromisoformat(identity.date[:10]))
                except ValueError:
                    continue
    return sorted(days)


def run_diff(
    config: DiffConfig,
    *,
    sessions: tuple[requests.Session | None, requests.Session | None] = (None, None),
) -> RunResult:
    """Compare the two servers ``config`` names; ``sessions`` let tests route requests."""
    scrubber = config.scrubber()
    sides = [
        Side(
            label,
            url,
            Transport(config.transport_config(url), scrubber, session=session),
            Credentials(key),
        )
        for label, url, key, session in (
            ("A", config.base_url_a, config.key_a, sessions[0]),
            ("B", config.base_url_b, config.key_b, sessions[1]),
        )
    ]
    subject = f"A={config.base_url_a} B={config.base_url_b}"
    result = RunResult("diff", subject, config.seed, strict=False)
    try:
        surveys = [side.survey() for side in sides]
    except HarnessError as exc:
        result.harness_error = str(exc)
        result.requests_made = sum(s.transport.requests_made for s in sides)
        return result
    budget = config.max_requests - 1
    if config.queries_from is not None:
        queries = from_cassette(config.queries_from)
    else:
        days = _days(surveys)
        probes = [past_the_newest(days)] if days else []
        queries = [dict(WHOLE), *probes, *draw(days, budget - 1 - len(probes), config.seed)]
    seen: dict[tuple[Any, ...], _Seen] = {}
    compared = 0
    try:
        for query in queries:
            if query == WHOLE:
                answers = [
                    Answer(s.label, r.exchange.curl(), response=r)
                    for s, r in zip(sides, surveys, strict=True)
                ]
            else:
                answers = [side.ask(query) for side in sides]
            compared += 1
            text = urlencode(query, safe=":/") or "(no parameters)"
            for difference in compare(text, answers[0], answers[1]):
                entry = seen.setdefault(difference.signature, _Seen(difference.finding))
                entry.queries.add(text)
                if difference.rule is not None:
                    entry.rules.add(difference.rule)
    except BudgetExhausted:
        pass  # the queries asked so far are compared; the subject line says how many
    except HarnessError as exc:
        result.harness_error = str(exc)
    result.subject = f"{subject} ({compared} of {len(queries)} queries compared)"
    findings: dict[str, list[Finding]] = {name: [] for name in CHECKS}
    for entry in seen.values():
        findings[entry.finding.check].append(entry.reported(config.seed))
    result.checks = [
        CheckResult(name, SCOPE, description, findings[name], judged=compared)
        for name, description in CHECKS.items()
    ]
    result.requests_made = sum(s.transport.requests_made for s in sides)
    return result
