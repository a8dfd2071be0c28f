"""Compile checks: each parsed rule on each target, and pySigma's validators on it.

The subject is a :class:`conformance.rules.toolchain.CompiledRule`: the document, what the
toolchain (parse, validate, convert per target, in worker processes) said about it, and the
run's policy (which targets are required).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace

from conformance.checks.document import detection_condition_is_valid, document_finding
from conformance.findings import Finding, Severity, SkipCheck
from conformance.registry import check
from conformance.rules.toolchain import CompiledRule
from conformance.rules.validators import FAILING_SEVERITIES, WARNING_VALIDATORS


@check("compile")
def pysigma_parses_rule(subject: CompiledRule) -> Iterator[Finding]:
    """pySigma parses the document into a rule."""
    if subject.outcome.over_budget is not None:
        yield _too_expensive(subject)
    for error in subject.outcome.parse_errors:
        yield document_finding(
            subject.document,
            f"pySigma cannot parse {subject.document.kind or 'rule'} {subject.document.label}:"
            f" {_NO_SOURCE.sub('', error)}",
            received=error,
            expected="a rule pySigma parses",
        )


#: pySigma appends the rule's source to conversion errors; a rule read from a mapping has none,
#: so it says "rule None". The finding names the rule (title, id, file:line) itself.
_NO_SOURCE = re.compile(r" \(while [a-z ]+ rule None\)")


def _condition_broken(subject: CompiledRule) -> bool:
    """Whether ``detection_condition_is_valid`` reports this rule (then it is that check's
    finding alone, not one more per target)."""
    try:
        output = detection_condition_is_valid(subject.document)
        return output is not None and (isinstance(output, Finding) or any(True for _ in output))
    except SkipCheck:
        return False


def _too_expensive(subject: CompiledRule) -> Finding:
    """A rule that ran out of its time budget (--rule-timeout): not judged, so a failure (a
    gate must not pass what it could not judge, and a SIEM converting it pays the same)."""
    return document_finding(
        subject.document,
        f"too expensive to judge: {subject.outcome.over_budget} (--rule-timeout);"
        " the rule was not validated or compiled",
        received=subject.outcome.over_budget,
        expected="a rule pySigma validates and converts within --rule-timeout",
    )


def _judged(subject: CompiledRule) -> None:
    """Skip a rule the toolchain gave up on (pysigma_parses_rule reports it)."""
    if subject.outcome.over_budget is not None:
        raise SkipCheck("a rule was too expensive to judge (--rule-timeout)")


def _compile_findings(subject: CompiledRule, *, required: bool) -> Iterator[Finding]:
    _judged(subject)
    outcomes = [o for o in subject.outcome.targets if (o.target in subject.required) == required]
    if not outcomes:
        # Nothing compiled: the rule did not parse (its own check says so), or no such target.
        kind = "required" if required else "advisory"
        if subject.outcome.parse_errors:
            raise SkipCheck("pySigma could not parse the rule")
        raise SkipCheck(f"no {kind} target")
    if any(not o.ok for o in outcomes) and _condition_broken(subject):
        # detection_condition_is_valid names the defect once; not once more per target.
        raise SkipCheck("the rule's condition is broken (see detection_condition_is_valid)")
    for outcome in outcomes:
        if outcome.ok:
            continue
        # Shared: many rules fail one target with one message (a table's valid fields, 2 KB).
        message = sys.intern(_NO_SOURCE.sub("", outcome.message or ""))
        finding = document_finding(
            subject.document,
            f"{subject.document.label} does not compile on {outcome.target}: {message}",
            received=message,
            expected=f"a query for {outcome.target}",
            severity=Severity.FAILURE if required else Severity.WARNING,
        )
        yield replace(finding, target=outcome.target)


@check("compile")
def rules_compile_on_required_targets(subject: CompiledRule) -> Iterator[Finding]:
    """Every rule compiles on each required target (splunk+sysmon, lucene+ecs_windows)."""
    yield from _compile_findings(subject, required=True)


@check("compile")
def rules_compile_on_advisory_targets(subject: CompiledRule) -> Iterator[Finding]:
    """Rules compile on the advisory targets (a warning: in the matrix, not in the verdict)."""
    yield from _compile_findings(subject, required=False)


@check("compile")
def pysigma_validators_pass(subject: CompiledRule) -> Iterator[Finding]:
    """pySigma's offline validators find no high-severity issue (lower ones are warnings).

    Validators encode SigmaHQ's conventions, not the vendor's documentation: a high-severity
    issue is a failure under ``--strict`` and a warning otherwise.
    """
    _judged(subject)
    if subject.outcome.parse_errors:
        raise SkipCheck("pySigma could not parse the rule")
    for issue in subject.outcome.issues:
        failing = issue.severity in FAILING_SEVERITIES and issue.validator not in (
            WARNING_VALIDATORS | subject.warning_validators
        )
        detail = f" ({issue.detail})" if issue.detail else ""
        yield document_finding(
            subject.document,
            f"{issue.validator} ({issue.severity}): {issue.description}{detail}",
            received=issue.validator,
            expected="no validator issue",
            severity=Severity.FAILURE if failing else Severity.WARNING,
            documented=False,
        )
