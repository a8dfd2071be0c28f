"""Client checks of the rules file a client leaves behind (``clientmode.outcome.ScenarioOutcome``).

A rules file is good when it is absent, unchanged by the run, or holds exactly what the
outcome's file model expects (:meth:`ScenarioOutcome.expected_file`): every rule served intact
so far (``accumulate``), or the rules of the latest run that got an intact answer (``latest``,
the vendor's ``since=<last run>`` recipe: an empty file after a run with nothing new). Document
texts are compared after trimming line ends; a rule re-serialised with the same content is a
warning. "Misses nothing" is judged over the union of what the file held after each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import yaml

from conformance.clientmode.outcome import rule_map
from conformance.findings import Finding, Severity, SkipCheck
from conformance.registry import check

if TYPE_CHECKING:
    from conformance.clientmode.outcome import ScenarioOutcome


def _file_rules(data: bytes | None) -> dict[str, str] | str:
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


def _model(outcome: ScenarioOutcome) -> str:
    return f"file model {outcome.file_model!r}"


def _nothing_served(outcome: ScenarioOutcome) -> bool:
    """No run got an intact answer and no run wrote a file: nothing to judge a file by."""
    return not any(run.answered for run in outcome.runs) and all(
        run.after is None or run.after == run.before for run in outcome.runs
    )


@check("client")
def leaves_no_partial_or_corrupt_file(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After every run the rules file is absent, unchanged, or exactly the rules served intact."""
    if not any(run.requested for run in outcome.runs) and _nothing_served(outcome):
        raise SkipCheck("the client sent no request and wrote no file")
    for run in outcome.runs:
        if run.after is None or run.after == run.before:
            continue
        rules = _file_rules(run.after)
        expected = outcome.expected_file(run.index)
        if isinstance(rules, dict) and set(rules) == set(expected):
            continue  # texts are judged by writes_exactly_the_served_rules
        problem = rules if isinstance(rules, str) else _difference(rules, expected)
        yield outcome.finding(
            run,
            f"the rules file was rewritten: {problem} ({_model(outcome)})",
            received=run.after[:300].decode("utf-8", "replace"),
            expected="the previous good file (or none) unless the whole answer arrived intact",
        )


@check("client")
def writes_exactly_the_served_rules(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After a successful run the file holds the served rules (all so far, or the latest run's)."""
    runs = [r for r in outcome.runs if r.exit_code == 0 and r.step.expect != "failure"]
    if not runs:
        raise SkipCheck("no successful run to judge")
    if _nothing_served(outcome):
        raise SkipCheck("no answer arrived intact and no file was written")
    for run in runs:
        expected = outcome.expected_file(run.index)
        rules = _file_rules(run.after)
        if isinstance(rules, str):
            message = f"the rules file is not clean: {rules}"
        elif rules == expected:
            continue
        elif set(rules) == set(expected) and all(
            yaml.safe_load(rules[i]) == yaml.safe_load(expected[i]) for i in rules
        ):
            yield outcome.finding(
                run,
                "the rules were re-serialised: same content, other text",
                severity=Severity.WARNING,
            )
            continue
        else:
            message = "the file does not hold the served rules: " + _difference(rules, expected)
        wanted = (
            "every rule served so far"
            if outcome.file_model == "accumulate"
            else ("the rules of the latest run that got an intact answer")
        )
        yield outcome.finding(
            run,
            f"{message} ({_model(outcome)})",
            received=f"{'no file' if run.after is None else str(len(run.after)) + ' bytes'}",
            expected=f"{len(expected)} rule(s), as served: {wanted}",
        )


@check("client")
def misses_nothing_across_runs(outcome: ScenarioOutcome) -> Iterator[Finding]:
    """After incremental runs every rule of the feed was in the file after some run."""
    if outcome.feed is None or not outcome.runs:
        raise SkipCheck("not an incremental scenario")
    if not outcome.feed:
        raise SkipCheck("the feed has no rule for the client's filters")
    held: set[str] = set()
    for run in outcome.runs:
        rules = _file_rules(run.after)
        if isinstance(rules, dict):
            held |= set(rules)
    missed = sorted(set(outcome.feed) - held)
    if missed:
        yield outcome.finding(
            outcome.runs[-1],
            f"{len(missed)} of the feed's {len(outcome.feed)} rules were never in the file",
            received=f"{len(held)} rule(s) held over the runs; missing e.g. "
            + ", ".join(missed[:3]),
            expected="every rule added up to the last run, in the file after some run "
            "(page with since/limit)",
        )
