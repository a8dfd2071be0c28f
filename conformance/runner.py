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

``KeyboardInterrupt`` (SIGINT, and SIGTERM as the commands install it) passes through too;
:func:`collecting` keeps every result created meanwhile, so a mode whose loop is cut short
still has what its checks judged before the signal, for the report marked "interrupted".
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from conformance.findings import CheckFailure, ConformanceError, Finding, SkipCheck
from conformance.registry import CheckSpec
from conformance.results import CheckResult

if TYPE_CHECKING:
    from conformance.rules.documents import RuleSet

_collectors: list[list[CheckResult]] = []


@contextlib.contextmanager
def collecting() -> Iterator[list[CheckResult]]:
    """Every result :func:`new_result` makes inside the block, in creation order (live)."""
    collected: list[CheckResult] = []
    _collectors.append(collected)
    try:
        yield collected
    finally:
        _collectors.remove(collected)


def new_result(spec: CheckSpec) -> CheckResult:
    """An empty result for ``spec``, to run subjects into."""
    result = CheckResult(spec.name, spec.scope, spec.description)
    for collected in _collectors:
        collected.append(result)
    return result


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


def explain_empty(results: Iterable[CheckResult], reason: str) -> None:
    """Give ``reason`` to every result that met no subject at all (nothing said why)."""
    for result in results:
        if not result.judged and not result.findings and not result.skips:
            result.skip(reason)


def reached_rules(results: Iterable[CheckResult]) -> int:
    """In a run cut short: how many rules the document checks got to (the most any judged)."""
    return max((r.judged for r in results if r.scope == "document"), default=0)


def count_rules(rulesets: Iterable[RuleSet]) -> int:
    """How many distinct rules (documents that are rule mappings) the rule checks judged."""
    texts = {
        d.text
        for ruleset in rulesets
        for d in ruleset.documents
        if d.mapping is not None and "action" not in d.mapping
    }
    return len(texts)


def stop_workers() -> None:
    """End the compile workers this run started: an interrupted run waits for no chunk."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()  # our own forked workers; SIGTERM would be caught by their handler
    for child in multiprocessing.active_children():
        child.join(timeout=5)
