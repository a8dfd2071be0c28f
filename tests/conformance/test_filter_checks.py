"""The filter and ``since`` checks, in-process: the mock passes them, each planted defect
fails the check named for it, and the verdicts say exactly what they found.

The same defects run over a real socket in ``test_catalogue.py``; here they run through a WSGI
adapter, fast enough to be the tests ``make mutation`` runs once per mutant of
``conformance/checks/filters.py`` and ``conformance/checks/since.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conformance import contract
from conformance.results import Status
from tests.conformance.catalogue import CATALOGUE, BrokenApp
from tests.conformance.in_process import run_checks

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
