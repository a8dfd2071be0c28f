"""The one way a check runs on a subject, in every mode (rules, server, client).

Every mode hands each selected check its subjects one at a time through :func:`run_check`,
so a check behaves the same wherever it runs:

- its findings are named for the check (a check never writes its own name) and carry the
  run's seed when the mode has one;
- ``CheckFailure`` (``ResponseFailure`` included) is one finding;
- ``SkipCheck`` says why this subject could not be judged; a check no subject could judge
  is skipped with those reasons (never "passed");
- the harness's own errors (``ConformanceError``: budget spent, usage) pass through, since
  they end the run, not the check;
- anything else is the check crashing on this subject: a finding, so one hostile input
  never takes the run down with it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from conformance.findings import CheckFailure, ConformanceError, Finding, SkipCheck
from conformance.registry import CheckSpec
from conformance.results import CheckResult


def new_result(spec: CheckSpec) -> CheckResult:
    """An empty result for ``spec``, to run subjects into."""
    return CheckResult(spec.name, spec.scope, spec.description)


def run_check(
    spec: CheckSpec, subject: Any, result: CheckResult, *, seed: int | None = None
) -> None:
    """Run ``spec`` on one ``subject``, adding what it found (or why it skipped) to ``result``."""
    findings: list[Finding] = []
    started = time.perf_counter()
    try:
        output = spec.func(subject)
        if isinstance(output, Finding):
            findings.append(output)
        elif output is not None:
            findings.extend(output)  # one by one: what came before a raise is kept
    except CheckFailure as failure:
        findings.append(failure.finding)
    except SkipCheck as skip:
        if not findings:
            result.seconds += time.perf_counter() - started
            result.skip(skip.reason)
            return
    except ConformanceError:
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile input must not crash the checker
        findings.append(Finding("", f"the check crashed: {type(exc).__name__}: {exc}"))
    result.seconds += time.perf_counter() - started
    result.judged += 1
    result.findings.extend(_stamp(f, spec.name, seed) for f in findings)


def _stamp(finding: Finding, name: str, seed: int | None) -> Finding:
    """Name the check, and the run's seed where the finding has none."""
    stamped = replace(finding, check=name)
    if seed is None or stamped.reproduction.seed is not None:
        return stamped
    return stamped.with_reproduction(seed=seed)
