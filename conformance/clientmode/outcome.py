"""What one scenario recorded, as the client checks see it: runs, exchanges, the final feed.

Also what a client's rules file should hold after each run. Two file models are accepted:

- ``accumulate``: the file holds every rule served intact so far (a client that merges);
- ``latest``: the file holds exactly the rules of the latest run that got an intact answer
  (the vendor's cron recipe, ``curl ... -o rules.yml`` with ``since=<last run>``; a run with
  nothing new leaves an empty file).

:func:`infer_file_model` picks the one a client's files show (``--file-model`` names it).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from conformance.clientmode.scenarios import Scenario, Step
from conformance.findings import Finding, Reproduction, Severity
from conformance.rules.documents import parse_body

FileModel = Literal["accumulate", "latest"]
FILE_MODELS: tuple[FileModel, ...] = ("accumulate", "latest")


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

    @property
    def answered(self) -> bool:
        """Whether some Sigma answer of this run arrived intact (maybe with no rule in it)."""
        return any(exchange.delivered is not None for exchange in self.exchanges)

    @property
    def requested(self) -> bool:
        """Whether the run sent any request to the API."""
        return any(exchange.is_api for exchange in self.exchanges)


@dataclass(frozen=True)
class ScenarioOutcome:
    """Everything a scenario recorded: its runs and, when incremental, the final feed."""

    scenario: Scenario
    command: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    feed: Mapping[str, str] | None = None  # incremental: all rules for the client's filters
    file_model: FileModel = "accumulate"  # what the rules file is judged against

    def cumulative(self, upto: int) -> dict[str, str]:
        """The rules delivered intact by runs 0..``upto``: what the file should hold then."""
        out: dict[str, str] = {}
        for run in self.runs[: upto + 1]:
            out.update(run.delivered)
        return out

    def latest(self, upto: int) -> dict[str, str]:
        """The rules of the latest run up to ``upto`` that got an intact answer ({}: none)."""
        for run in reversed(self.runs[: upto + 1]):
            if run.answered:
                return run.delivered
        return {}

    def expected_file(self, upto: int, model: FileModel | None = None) -> dict[str, str]:
        """What the rules file should hold after run ``upto``, under ``model`` (default: ours)."""
        chosen = model or self.file_model
        return self.latest(upto) if chosen == "latest" else self.cumulative(upto)

    def finding(
        self,
        run: RunRecord,
        message: str,
        *,
        severity: Severity = Severity.FAILURE,
        received: str | None = None,
        expected: str | None = None,
    ) -> Finding:
        """A finding located at one run of this scenario, with the command line that repeats it."""
        name = self.scenario.name
        repro = Reproduction(
            curl=f"soc-conformance client --scenario {name} -- {shlex.join(self.command)}",
            source=f"scenario {name}, run {run.index + 1} of {len(self.runs)}",
        )
        return Finding("", message, severity, received, expected, reproduction=repro)


def infer_file_model(outcomes: Sequence[ScenarioOutcome]) -> FileModel | None:
    """The file model the client's files show, or None when no run tells the two apart.

    A successful run whose file holds exactly what one model expects and not what the other
    does is a vote for that model; the majority wins, a tie goes to ``accumulate``.
    """
    votes = dict.fromkeys(FILE_MODELS, 0)
    for outcome in outcomes:
        for run in outcome.runs:
            if run.exit_code != 0 or run.after is None:
                continue
            rules = rule_map(run.after)
            if not isinstance(rules, dict):
                continue
            held = set(rules)
            fits = [m for m in FILE_MODELS if held == set(outcome.expected_file(run.index, m))]
            if len(fits) == 1:
                votes[fits[0]] += 1
    if not any(votes.values()):
        return None
    return "latest" if votes["latest"] > votes["accumulate"] else "accumulate"


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
