"""The outcome of a run: per-check results, the compile matrix, and the exit code they imply."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from conformance.findings import Finding, Severity

#: The exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130
#: The name of the check ``--min-rules`` adds to a run.
MIN_RULES_CHECK = "enough_rules_were_judged"


class Status(enum.Enum):
    """A check's outcome in one run."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass
class CheckResult:
    """One check's outcome over its subjects: its findings, or why nothing could be judged.

    A check that judged no subject (every one skipped, or there was none) is skipped, with
    the reasons its subjects gave: a check is never "passed" on nothing.
    """

    name: str
    scope: str
    description: str
    findings: list[Finding] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)  # why subjects could not be judged
    judged: int = 0  # subjects the check judged
    seconds: float = 0.0  # time spent running the check on its subjects (JUnit, HTML)

    def skip(self, reason: str) -> None:
        """Record that one subject could not be judged, and why."""
        self.skips.append(reason)

    @property
    def skip_reason(self) -> str | None:
        """Why the check judged nothing (None when it judged something)."""
        if self.judged or self.findings:
            return None
        return "; ".join(dict.fromkeys(self.skips)) or "nothing to judge"

    def status(self, *, strict: bool) -> Status:
        """Skipped, failed (any failure finding), warning (only warnings) or passed."""
        if self.skip_reason is not None:
            return Status.SKIPPED
        severities = {f.effective(strict=strict) for f in self.findings}
        if Severity.FAILURE in severities:
            return Status.FAILED
        if severities:
            return Status.WARNING
        return Status.PASSED


@dataclass
class CompileCell:
    """How the rules of one IOC type fared on one target."""

    ok: int = 0
    failed: int = 0


@dataclass
class CompileMatrix:
    """IOC type x target → compile counts; ``required`` targets fail the run."""

    targets: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], CompileCell] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # target -> vendor name used for it

    def label(self, target: str) -> str:
        """The target as reports name it: ``elastic=lucene+ecs_windows`` when given by alias."""
        alias = self.aliases.get(target)
        return f"{alias}={target}" if alias else target

    def cell(self, ioc_type: str, target: str) -> CompileCell:
        """The cell for a type and target, created empty on first use."""
        return self.cells.setdefault((ioc_type, target), CompileCell())

    def types(self) -> list[str]:
        """The IOC types seen, sorted."""
        return sorted({t for t, _ in self.cells})


@dataclass
class RunResult:
    """Everything one run of the checker found."""

    mode: str  # "rules", "server" or "client"
    subject: str  # a file list, a base URL (never a key), a command
    seed: int | None
    strict: bool
    checks: list[CheckResult] = field(default_factory=list)
    matrix: CompileMatrix | None = None
    requests_made: int = 0
    harness_error: str | None = None  # set when the target could not be tested
    max_requests: int | None = None  # the request budget, in modes that have one
    seconds: float | None = None  # the whole run's wall-clock time, when measured
    rules_judged: int | None = None  # rules (documents that are rule mappings) judged, if any mode
    interrupted: bool = False  # SIGINT/SIGTERM: the checks hold what was judged before it

    def require_rules(self, minimum: int | None) -> None:
        """``--min-rules``: add a check that fails when fewer than ``minimum`` rules were judged.

        An empty answer can be right (an incremental run with nothing new), so without the
        option zero rules is no failure; a cron gate that expects rules asks for them.
        """
        if minimum is None or self.interrupted or self.harness_error is not None:
            return
        judged = self.rules_judged or 0
        result = CheckResult(
            MIN_RULES_CHECK, "collection", f"at least {minimum} rule(s) judged (--min-rules)"
        )
        result.judged = 1
        if judged < minimum:
            result.findings.append(
                Finding(
                    MIN_RULES_CHECK,
                    f"{judged} rule(s) judged, fewer than --min-rules {minimum}",
                    received=f"{judged} rule(s)",
                    expected=f"at least {minimum} rule(s)",
                )
            )
        self.checks.append(result)

    def counts(self) -> dict[Status, int]:
        """How many checks ended in each status."""
        out = dict.fromkeys(Status, 0)
        for c in self.checks:
            out[c.status(strict=self.strict)] += 1
        return out

    def exit_code(self) -> int:
        """0 conformant, 1 failures, 3 could not test, 130 interrupted (2, usage, is raised
        before a run)."""
        if self.interrupted:
            return INTERRUPTED_EXIT
        if self.harness_error is not None:
            return 3
        return 1 if self.counts()[Status.FAILED] else 0
