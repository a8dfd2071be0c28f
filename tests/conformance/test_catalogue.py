"""The suite bites: each app of the catalogue, the real mock with one defect, fails the check
named for it, over a real loopback socket.

Each app runs its one check (``--check NAME``: the run stays short); a handful also run the
whole suite, to show that the defect fails its check and nothing else fails spuriously. The
unmodified mock passing every check under ``--strict`` is ``test_server_e2e.py``'s job.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.results import RunResult, Status
from conformance.rules.run import check_names
from conformance.server.run import load_server_checks
from tests.conformance.catalogue import CATALOGUE, KINDS, BrokenApp
from tests.conformance.planted import PRO, check_server, served
from tests.conformance.variations import VARIATIONS

#: Rule checks no defect can fail: warnings by design, or opt-in (``--uuid-v4``).
NEVER_FAIL = {
    "titles_are_distinct",
    "rules_compile_on_advisory_targets",
    "id_is_uuid_v4",
    "top_level_keys_are_known",
    # --profile sigma only (server mode judges the vendor's format): its defects are planted
    # in test_sigma_profile.
    "date_is_a_sigma_date",
}


def _param(entry: BrokenApp) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=entry.gap)] if entry.gap else []
    return pytest.param(entry, id=entry.name, marks=marks)


def failed(result: RunResult) -> set[str]:
    """The checks that failed in a run."""
    return {c.name for c in result.checks if c.status(strict=result.strict) is Status.FAILED}


def test_the_catalogue_covers_every_kind_with_distinct_defects() -> None:
    assert len(CATALOGUE) >= 25
    assert {entry.kind for entry in CATALOGUE} == set(KINDS)
    for kind in KINDS:
        assert sum(entry.kind == kind for entry in CATALOGUE) >= 3, kind
    assert len({entry.name for entry in CATALOGUE}) == len(CATALOGUE)
    assert len({entry.doc for entry in CATALOGUE}) == len(CATALOGUE)
    assert len({entry.make for entry in CATALOGUE}) == len(CATALOGUE)
    assert len(VARIATIONS) >= 6
    assert len({variation.name for variation in VARIATIONS}) == len(VARIATIONS)


def test_every_check_that_can_fail_has_a_defect_that_fails_it() -> None:
    known = {spec.name for spec in load_server_checks()} | set(check_names())
    bitten = {entry.check for entry in CATALOGUE if entry.gap is None}
    assert bitten <= known, bitten - known
    assert known - bitten == NEVER_FAIL


@pytest.mark.parametrize("entry", [_param(entry) for entry in CATALOGUE])
def test_each_broken_app_fails_its_check(entry: BrokenApp) -> None:
    with served(entry.make) as url:
        result = check_server(
            url, include=(entry.check,), strict=entry.strict, max_examples=entry.examples
        )
    assert result.harness_error is None, result.harness_error
    (check,) = [c for c in result.checks if c.name == entry.check]
    assert check.status(strict=entry.strict) is Status.FAILED, (check.skip_reason, check)
    assert result.exit_code() == 1
    finding = check.findings[0]
    assert finding.check == entry.check
    if check.scope == "server":
        assert finding.reproduction.seed == 7
    assert finding.reproduction.curl is None or PRO not in finding.reproduction.curl


#: Defects run through the whole suite, with every check that must fail: the defect's own,
#: plus only what follows from it (never a spurious failure elsewhere).
WHOLE_SUITE = {
    "malformed ATT&CK tag": set(),
    "condition names a missing selection": set(),
    # A null document is a document: N+1 documents where limit=N asked for N rules.
    "null document between rules": {"limit_caps_the_count", "limit_gives_a_prefix"},
    "type=url ignored": set(),
    "limit takes the tail": set(),
    # A Free key served as a Pro key has Pro's limits: 11 requests trip nothing.
    "free key gets rules": {"over_the_limit_is_429_rate_limit_exceeded"},
    # The second invalid-key probe is a malformed key sent as X-API-Key: ignored, it is missing.
    "X-API-Key ignored": {"unknown_key_is_401_invalid_api_key"},
    "rules as text/plain": set(),
}


@pytest.mark.parametrize("name", WHOLE_SUITE)
def test_the_whole_suite_fails_the_defect_and_only_what_follows(name: str) -> None:
    (entry,) = [e for e in CATALOGUE if e.name == name]
    with served(entry.make) as url:
        result = check_server(url, strict=entry.strict)
    assert result.harness_error is None, result.harness_error
    assert failed(result) == {entry.check, *WHOLE_SUITE[name]}
    assert result.exit_code() == 1
