"""Client checks of the rules file a client leaves behind (``clientmode.outcome.ScenarioOutcome``).

A rules file is good when it is absent, unchanged by the run, or holds exactly the rules the
server delivered intact so far (document texts compared after trimming line ends; a rule
re-serialised with the same content is a warning).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import yaml

from conformance.checks.client_traffic import _finding
from conformance.findings import Finding, Severity, SkipCheck
from conformance.registry import check

if TYPE_CHECKING:
    from conformance.clientmode.outcome import ScenarioOutcome


def _file_rules(data: bytes | None) -> dict[str, str] | str:
    from conformance.clientmode.outcome import rule_map

    return {} if data is None else rule_map(data)


def _difference(have: dict[str, str], want: dict[str, str]) -> str:
    missing, extra = set(want) - set(have), set(have) - set(want)
    changed = [i for i in set(have) & set(want) if have[i] != want[i]]
    parts = [
        f"{len(missing)} missing",
        f"{len(extra)} never served intact",
        f"{len(changed)} changed",
    ]
    sample = sorted(missing)[:2] + sorted(extra)[:2] + sorted(changed)[:2]
    return ", ".join(parts) + (f" (e.g. {', '.join(sample)})" if sample else "")


@check("client")
def leaves_no_partial_or_corrupt_file(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After every run the rules file is absent, unchanged, or exactly the rules served intact."""
    for run in outcome.runs:
        if run.after is None or run.after == run.before:
            continue
        rules = _file_rules(run.after)
        expected = outcome.cumulative(run.index)
        if isinstance(rules, dict) and set(rules) == set(expected):
            continue  # texts are judged by writes_exactly_the_served_rules
        problem = rules if isinstance(rules, str) else _difference(rules, expected)
        yield _finding(
            outcome, run,
            f"the rules file was rewritten: {problem}",
            received=run.after[:300].decode("utf-8", "replace"),
            expected="the previous good file (or none) unless the whole answer arrived intact",
        )  # fmt: skip


@check("client")
def writes_exactly_the_served_rules(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After a successful run the file holds every rule served so far, once, as served."""
    runs = [r for r in outcome.runs if r.exit_code == 0 and r.step.expect != "failure"]
    if not runs:
        raise SkipCheck("no successful run to judge")
    for run in runs:
        expected = outcome.cumulative(run.index)
        rules = _file_rules(run.after)
        if isinstance(rules, str):
            message = f"the rules file is not clean: {rules}"
        elif rules == expected:
            continue
        elif set(rules) == set(expected) and all(
            yaml.safe_load(rules[i]) == yaml.safe_load(expected[i]) for i in rules
        ):
            yield _finding(
                outcome, run,
                "the rules were re-serialised: same content, other text", severity=Severity.WARNING,
            )  # fmt: skip
            continue
        else:
            message = "the file does not hold the served rules: " + _difference(rules, expected)
        yield _finding(
            outcome, run, message,
            received=f"{'no file' if run.after is None else str(len(run.after)) + ' bytes'}",
            expected=f"{len(expected)} rule(s), as served",
        )  # fmt: skip


@check("client")
def misses_nothing_across_runs(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After incremental runs the file holds every rule the feed has for the client's filters."""
    if outcome.feed is None or not outcome.runs:
        raise SkipCheck("not an incremental scenario")
    if not outcome.feed:
        raise SkipCheck("the feed has no rule for the client's filters")
    last = outcome.runs[-1]
    rules = _file_rules(last.after)
    have = set(rules) if isinstance(rules, dict) else set()
    missed = sorted(set(outcome.feed) - have)
    if missed:
        yield _finding(
            outcome, last,
            f"{len(missed)} of the feed's {len(outcome.feed)} rules are not in the file",
            received=f"{len(have)} rule(s) in the file; missing e.g. {', '.join(missed[:3])}",
            expected="every rule added up to the last run (page with since/limit)",
        )  # fmt: skip
