"""The filter and ``since`` checks, in-process: the mock passes them, each planted defect
fails the check named for it, and the verdicts say exactly what they found.

The same defects run over a real socket in ``test_catalogue.py``; here they run through a WSGI
adapter, fast enough to be the tests ``make mutation`` runs once per mutant of
``conformance/checks/filters.py`` and ``conformance/checks/since.py``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from conformance import contract
from conformance.results import Status
from tests.conformance.catalogue import CATALOGUE, BrokenApp, _since_earlier
from tests.conformance.in_process import run_checks
from tests.conformance.planted import per_query

FILTER_CHECKS = (
    "type_filter_selects_only_its_type",
    "confidence_filter_selects_only_its_level",
    "industry_filter_selects_a_subset",
    "combined_filters_give_the_intersection",
    "limit_caps_the_count",
    "limit_gives_a_prefix",
)
SINCE_CHECKS = ("since_is_monotonic", "since_is_strict", "empty_result_is_empty_body")
DEFECTS = [
    pytest.param(entry, id=entry.name)
    for entry in CATALOGUE
    if entry.check in FILTER_CHECKS + SINCE_CHECKS and entry.gap is None
]


def test_the_mock_passes_every_filter_and_since_check_strictly() -> None:
    results = run_checks(FILTER_CHECKS + SINCE_CHECKS, strict=True)
    for name, result in results.items():
        assert result.skip_reason is None, (name, result.skip_reason)
        assert result.findings == [], (name, result.findings)
        assert result.status(strict=True) is Status.PASSED


@pytest.mark.parametrize("entry", DEFECTS)
def test_each_defect_fails_its_check(entry: BrokenApp) -> None:
    result = run_checks(
        (entry.check,), entry.make, strict=entry.strict, max_examples=entry.examples
    )[entry.check]
    assert result.status(strict=entry.strict) is Status.FAILED, (result.skip_reason, result)
    finding = result.findings[0]
    assert finding.check == entry.check
    assert finding.reproduction.seed == 7
    assert finding.reproduction.curl is not None


@pytest.mark.parametrize("cap", [40])
def test_answers_cut_at_the_cap_are_not_judged_for_what_they_lack(
    monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """A server whose answers stop at its maximum (here 40 rules, and the checker told so)
    leaves rules out of the wide answers legitimately: no check may call that a defect."""
    monkeypatch.setattr(contract, "PRO", replace(contract.PRO, max_results=cap))
    results = run_checks(FILTER_CHECKS + SINCE_CHECKS[:2], strict=True, cap=cap)
    for name, result in results.items():
        assert result.status(strict=True) is Status.PASSED, (name, result.findings)


def test_every_filter_and_since_check_has_a_defect_here() -> None:
    assert {entry.values[0].check for entry in DEFECTS} == set(FILTER_CHECKS + SINCE_CHECKS)


# --- since at day resolution, and what each verdict says -------------------------------------


def _since_later(days: int) -> Any:
    return _since_earlier(lambda moment: -timedelta(days=days))


def test_since_a_day_early_for_updated_iocs_is_a_warning() -> None:
    """Rules dated before since whose IOCs were seen again since: one page says 'or updated'."""
    result = run_checks(
        ("since_is_strict",),
        per_query(_since_earlier(lambda m: timedelta(days=1))),
        max_examples=25,
    )["since_is_strict"]
    warning = next(f for f in result.findings if not f.documented)
    assert re.fullmatch(
        r"since=\S+ returned rule \S+ dated \d{4}-\d\d-\d\d, before it \(allowed only if the IOC "
        r"was updated since: a page says 'or updated'\)",
        warning.message,
    ), warning.message
    assert warning.reproduction.curl is not None
    assert "title:" in (warning.reproduction.document or "")


def test_since_days_late_leaves_rules_out() -> None:
    result = run_checks(("since_is_strict",), per_query(_since_later(3)), max_examples=25)[
        "since_is_strict"
    ]
    assert result.status(strict=False) is Status.FAILED
    finding = result.findings[0]
    assert re.fullmatch(
        r"since=\S+ left out rule \S+, dated \d{4}-\d\d-\d\d \(after it\)", finding.message
    ), finding.message
    assert finding.expected is not None
    assert finding.expected.startswith("every rule of curl ")
    assert "title:" in (finding.reproduction.document or "")


def test_an_inclusive_since_is_a_documented_finding_with_its_rule() -> None:
    result = run_checks(
        ("since_is_strict",),
        per_query(_since_earlier(lambda m: timedelta(seconds=1))),
        strict=True,
        max_examples=25,
    )["since_is_strict"]
    [finding] = result.findings
    assert finding.message.endswith(": 'after' is strict")
    assert finding.expected == "no rule for an IOC added at (not after) since"
    assert "title:" in (finding.reproduction.document or "")
    assert finding.reproduction.curl is not None
    assert "since=" in finding.reproduction.curl


def test_a_null_empty_answer_is_named() -> None:
    [entry] = [e.values[0] for e in DEFECTS if e.values[0].check == "empty_result_is_empty_body"]
    result = run_checks(("empty_result_is_empty_body",), entry.make)["empty_result_is_empty_body"]
    [finding] = result.findings
    assert finding.message == "the empty answer holds a null YAML document"
    assert finding.expected == "an empty body (zero documents)"
