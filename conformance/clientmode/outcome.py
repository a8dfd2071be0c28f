"""What one scenario recorded, as the client checks see it: runs, exchanges, the final feed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conformance.clientmode.scenarios import Scenario, Step
from conformance.rules.documents import parse_body


@dataclass(frozen=True)
class ClientRequest:
    """One request the client made and what it got, as the checks see it."""

    time: float
    path: str
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    status: int  # 0: the connection was reset
    response_headers: Mapping[str, str]
    complete: bool
    delivered: Mapping[str, str] | None = None  # Sigma 200 delivered intact: id → document

    @property
    def is_api(self) -> bool:
        """Whether this is a request to the vendor's API (not /healthz or /openapi.json)."""
        return self.path.startswith("/api/")

    @property
    def transient_failure(self) -> bool:
        """A 5xx, a reset connection or a body cut short: worth retrying."""
        return self.status == 0 or self.status >= 500 or not self.complete


@dataclass(frozen=True)
class RunRecord:
    """One run of the command within a scenario."""

    index: int
    step: Step
    key: str
    exit_code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    exchanges: tuple[ClientRequest, ...]
    before: bytes | None  # the rules file before the run (None: absent)
    after: bytes | None

    @property
    def delivered(self) -> dict[str, str]:
        """Every rule this run's answers delivered intact, id → document text."""
        out: dict[str, str] = {}
        for exchange in self.exchanges:
            out.update(exchange.delivered or {})
        return out


@dataclass(frozen=True)
class ScenarioOutcome:
    """Everything a scenario recorded: its runs and, when incremental, the final feed."""

    scenario: Scenario
    command: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    feed: Mapping[str, str] | None = None  # incremental: all rules for the client's filters

    def cumulative(self, upto: int) -> dict[str, str]:
        """The rules delivered intact by runs 0..``upto``: what the file should hold then."""
        out: dict[str, str] = {}
        for run in self.runs[: upto + 1]:
            out.update(run.delivered)
        return out


def rule_map(body: bytes, *, allow_repeats: bool = False) -> dict[str, str] | str:
    """A rules body as id → normalised document text, or why it is not a clean rules file.

    Clean: UTF-8 YAML documents that all load, each a mapping with an ``id``, no ``action``
    document, each id once. ``allow_repeats`` tolerates an identical repeat (an answer a
    client may deduplicate; a file that keeps it would alert twice).
    """
    ruleset = parse_body(body, source="rules")
    if ruleset.error:
        return ruleset.error
    rules: dict[str, str] = {}
    for document in ruleset.documents:
        if document.trailing:
            continue
        if document.error:
            return f"document {document.index} does not load: {document.error}"
        data = document.mapping
        if data is None or "id" not in data or "action" in data:
            return f"document {document.index} is not a Sigma rule: {document.text[:80]!r}"
        text = "\n".join(line.rstrip() for line in document.text.strip().splitlines())
        rule_id = str(data["id"])
        if rule_id in rules and (rules[rule_id] != text or not allow_repeats):
            return f"id {rule_id} has two documents (document {document.index} repeats it)"
        rules[rule_id] = text
    return rules
