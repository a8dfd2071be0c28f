"""What a check reports, and the two kinds of trouble the checker can meet.

Exception tree (schemathesis' split between the target breaking the contract and the harness
being unable to test)::

    Exception
    ├── CheckFailure(AssertionError)   a check saw the target break the contract (carries a Finding)
    ├── SkipCheck                      a check cannot apply here (no Free key, no JSON sibling)
    └── ConformanceError               the harness cannot test at all
        ├── UsageError                 bad options or configuration       → exit 2
        └── HarnessError               unreachable target, budget spent   → exit 3
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Severity(enum.Enum):
    """How much a finding weighs in the verdict."""

    FAILURE = "failure"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)  # slots: a run can hold 100,000 findings
class Reproduction:
    """Everything a reader needs to see the finding again themselves."""

    curl: str | None = None  # the request, key redacted
    seed: int | None = None  # the run's seed (Hypothesis and request order)
    document: str | None = None  # the offending YAML document, as received
    document_index: int | None = None  # its position in the body (0-based)
    source: str | None = None  # a file name or URL
    curl_b: str | None = None  # diff mode: the same request to side B (``curl`` is side A's)
    line: int | None = None  # the line of ``source`` where the document starts (1-based)
    rule: str | None = None  # the rule's title and id, as a reader finds it


@dataclass(frozen=True, slots=True)  # slots: a run can hold 100,000 findings
class Finding:
    """One observation of a check: what was received, what was expected, how to reproduce.

    ``documented`` is False when the expectation is the mock's choice rather than the vendor's
    documentation: such findings count as failures only under ``--strict``.
    """

    check: str
    message: str
    severity: Severity = Severity.FAILURE
    received: str | None = None
    expected: str | None = None
    reproduction: Reproduction = field(default_factory=Reproduction)
    documented: bool = True
    target: str | None = None  # a compile target, for compile findings

    def effective(self, *, strict: bool) -> Severity:
        """The severity this finding has in a run with or without ``--strict``."""
        if self.severity is Severity.FAILURE and not self.documented and not strict:
            return Severity.WARNING
        return self.severity

    def with_reproduction(self, **changes: object) -> Finding:
        """A copy whose reproduction has the given fields replaced."""
        return replace(self, reproduction=replace(self.reproduction, **changes))  # type: ignore[arg-type]


class CheckFailure(AssertionError):
    """Raised inside a check to stop it with one finding."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class SkipCheck(Exception):
    """Raised inside a check that cannot apply to this target."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConformanceError(Exception):
    """Root of the harness's own errors (not the target's)."""

    exit_code = 3


class UsageError(ConformanceError):
    """Bad options, configuration or input file names."""

    exit_code = 2


class HarnessError(ConformanceError):
    """The target could not be tested: unreachable, budget exhausted, unreadable input."""

    exit_code = 3
