"""The suite never flags a conformant server: each variation of the mock that the contract
allows passes the whole suite with ``--strict`` (every server check, every rule check, and
compiling on the required targets), over a real loopback socket.

Each test first shows that its variation is really in effect (``ConformantVariation.shows``),
comparing its answer with the plain mock's, so a variation that silently changed nothing
cannot pass for one the checker accepts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from conformance.results import Status
from tests.conformance.planted import PRO, check_server, served
from tests.conformance.variations import VARIATIONS, ConformantVariation

PROBE = "/api/v1/iocs/sigma?limit=20"
#: Known false positives of the checker, by variation name, until the checker is fixed; each
#: test is then xfail(strict=True), so the fix shows up as a red run that removes the entry.
FALSE_POSITIVES: dict[str, str] = {}


def _probe(url: str) -> requests.Response:
    return requests.get(url + PROBE, headers={"Authorization": f"Bearer {PRO}"}, timeout=10)


@pytest.fixture(scope="module")
def plain() -> Iterator[requests.Response]:
    """The plain mock's answer to the probe (same feed as every variation)."""
    with served(lambda app: app) as url:
        yield _probe(url)


def _param(variation: ConformantVariation) -> object:
    reason = FALSE_POSITIVES.get(variation.name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(variation, id=variation.name, marks=marks)


@pytest.mark.parametrize("variation", [_param(v) for v in VARIATIONS])
def test_each_conformant_variation_passes_strict(
    variation: ConformantVariation, plain: requests.Response
) -> None:
    with served(variation.make) as url:
        varied = _probe(url)
        assert varied.status_code == 200
        assert variation.shows is None or variation.shows(varied, plain), "not in effect"
        result = check_server(url, strict=True)
    assert result.harness_error is None, result.harness_error
    failures = {
        check.name: [finding.message for finding in check.findings][:2]
        for check in result.checks
        if check.status(strict=True) is Status.FAILED
    }
    assert failures == {}
    assert result.exit_code() == 0
    # Every check judged something; only the required targets are compiled here, so the
    # advisory compile check has no target to judge (skipped, not passed on nothing).
    unjudged = [(c.name, c.skip_reason) for c in result.checks if c.skip_reason]
    assert unjudged == [("rules_compile_on_advisory_targets", "no advisory target")]
