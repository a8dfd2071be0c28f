"""What the toolchain says about a rule: its parse errors, validator issues and, per target, a
query or why not. Plain frozen data, so worker processes send it back cheaply; kept apart from
the toolchain (which runs the workers) so the meta-rule compiler and the toolchain both build
on it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TargetOutcome:
    """One rule on one target: converted, or why not."""

    target: str
    ok: bool
    message: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class ValidatorIssue:
    """One pySigma validator issue on one rule."""

    validator: str
    severity: str  # pySigma's severity name: informational, low, medium, high, critical
    description: str
    detail: str = ""  # the issue's own fields (``fieldname: foo``), as pySigma gives them


@dataclass(frozen=True)
class RuleOutcome:
    """Everything the toolchain said about one document."""

    ruleset: int
    index: int
    parse_errors: tuple[str, ...] = ()
    targets: tuple[TargetOutcome, ...] = ()
    issues: tuple[ValidatorIssue, ...] = ()
    #: Set when the rule ran out of its time budget: what it was doing then. Nothing else in
    #: the outcome is then a judgement (the rule was not judged).
    over_budget: str | None = None


def issue_detail(issue: Any) -> str:
    """A pySigma validation issue's own fields (all but ``rules``), e.g. ``fieldname: foo``:
    what pySigma's ``str(issue)`` prints after the description."""
    import dataclasses

    parts = []
    for item in dataclasses.fields(issue):
        if item.name in ("rules", "severity", "description"):
            continue
        value = getattr(issue, item.name)
        text = ", ".join(map(str, value)) if isinstance(value, list | tuple | set) else str(value)
        parts.append(f"{item.name}: {text[:200]}")
    return "; ".join(parts)


def convert(spec: str, backend: Any, rule: Any) -> TargetOutcome:
    """One pySigma rule converted by one backend: its first query, or why not."""
    try:
        queries = backend.convert_rule(rule)
    except Exception as exc:  # noqa: BLE001 - backends raise many kinds; each is a finding
        return TargetOutcome(spec, ok=False, message=f"{type(exc).__name__}: {exc}")
    if not queries:
        return TargetOutcome(spec, ok=False, message="the backend produced no query")
    return TargetOutcome(spec, ok=True, query=str(queries[0]))


def validator_issues(validators: dict[str, Any], subject: Any) -> list[ValidatorIssue]:
    """What each of pySigma's ``validators`` says of one rule or correlation; a validator that
    crashes is reported as an issue of its own, not fatal."""
    issues = []
    for name, validator in validators.items():
        try:
            found = validator.validate(subject)
        except Exception as exc:  # noqa: BLE001 - a validator crash is reported, not fatal
            issues.append(ValidatorIssue(name, "high", f"validator crashed: {exc}"))
            continue
        issues.extend(
            ValidatorIssue(name, i.severity.name.lower(), i.description, issue_detail(i))
            for i in found
        )
    return issues
