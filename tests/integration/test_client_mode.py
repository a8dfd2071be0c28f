"""``soc-conformance client`` end to end: the careful example passes every scenario, the naive
one fails exactly the checks its defects break, scenario by scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.clientmode.run import (
    ClientConfig,
    judge_outcomes,
    load_reference_dataset,
    run_client,
    run_scenario,
)
from conformance.clientmode.scenarios import SCENARIOS
from conformance.results import RunResult, Status

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("client_mode")]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SYNC = (sys.executable, str(EXAMPLES / "sync_rules.py"), "--no-check", "--backoff", "0.1")
NAIVE = (sys.executable, str(EXAMPLES / "naive_client.py"))

#: What the naive client's defects break, per scenario (examples/naive_client.py's docstring).
NAIVE_FAILURES = {
    "happy": set(),  # it works on a good day: the key in the URL is only a warning
    "bad-key": {"fails_loudly_when_it_cannot_sync", "refused_key_is_not_retried"},
    "free-key": {"fails_loudly_when_it_cannot_sync", "leaves_no_partial_or_corrupt_file"},
    "rate-limited": {"leaves_no_partial_or_corrupt_file", "succeeds_when_the_feed_is_served",
                     "writes_exactly_the_served_rules"},
    "server-errors": {"leaves_no_partial_or_corrupt_file", "retries_server_errors",
                      "succeeds_when_the_feed_is_served", "writes_exactly_the_served_rules"},
    "server-down": {"fails_loudly_when_it_cannot_sync", "leaves_no_partial_or_corrupt_file",
                    "retries_server_errors"},
    "truncated-body": {"fails_loudly_when_it_cannot_sync", "leaves_no_partial_or_corrupt_file",
                       "retries_server_errors"},
    "invalid-yaml": {"fails_loudly_when_it_cannot_sync", "leaves_no_partial_or_corrupt_file"},
    "action-global": {"fails_loudly_when_it_cannot_sync", "leaves_no_partial_or_corrupt_file"},
    "duplicate-id": {"fetches_nothing_twice", "leaves_no_partial_or_corrupt_file",
                     "writes_exactly_the_served_rules"},
    "connection-reset": {"fails_loudly_when_it_cannot_sync", "retries_server_errors"},
    "empty-200": {"leaves_no_partial_or_corrupt_file", "writes_exactly_the_served_rules"},
    "bom-crlf": set(),
    "incremental": {"fetches_nothing_twice", "misses_nothing_across_runs"},
}  # fmt: skip


@pytest.fixture(scope="module")
def naive_verdicts() -> dict[str, tuple[set[str], set[str]]]:
    """Scenario → (failed checks, checks with warnings) for the naive client."""
    config = ClientConfig(command=NAIVE, timeout=60)
    dataset = load_reference_dataset(None)
    verdicts = {}
    for scenario in SCENARIOS:
        results = judge_outcomes([run_scenario(scenario, config, dataset)], config)
        statuses = {r.name: r.status(strict=False) for r in results}
        verdicts[scenario.name] = (
            {n for n, s in statuses.items() if s is Status.FAILED},
            {n for n, s in statuses.items() if s is Status.WARNING},
        )
    return verdicts


@pytest.fixture(scope="module")
def sync_result() -> RunResult:
    return run_client(ClientConfig(command=SYNC, timeout=120))


def test_the_catalogue_covers_every_scenario() -> None:
    assert set(NAIVE_FAILURES) == {s.name for s in SCENARIOS}


@pytest.mark.parametrize("scenario", list(NAIVE_FAILURES))
def test_naive_client_fails_exactly_what_its_defects_break(
    naive_verdicts: dict[str, tuple[set[str], set[str]]], scenario: str
) -> None:
    failed, warned = naive_verdicts[scenario]
    assert failed == NAIVE_FAILURES[scenario]
    assert "sends_the_key_in_a_header" in warned  # api_key= in the URL, every scenario


def test_sync_client_passes_every_scenario(sync_result: RunResult) -> None:
    statuses = {c.name: c.status(strict=False) for c in sync_result.checks}
    assert sync_result.exit_code() == 0, [
        (c.name, [f.message for f in c.findings]) for c in sync_result.checks if c.findings
    ]
    assert set(statuses.values()) == {Status.PASSED}  # every check judged something: no skip
    assert sync_result.requests_made > len(SCENARIOS)


def test_cli_runs_chosen_scenarios_writes_reports_and_never_prints_a_key(tmp_path: Path) -> None:
    report, junit = tmp_path / "client.json", tmp_path / "client.xml"
    result = CliRunner().invoke(
        main,
        ["client", "--scenario", "bad-key,happy", "--json", str(report), "--junitxml", str(junit),
         "--timeout", "30", "--", *NAIVE],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "NOT CONFORMANT" in result.stdout
    assert "refused_key_is_not_retried" in result.stdout
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["mode"] == "client"
    assert document["exit_code"] == 1
    failed = {c["name"] for c in document["checks"] if c["status"] == "failed"}
    assert failed == NAIVE_FAILURES["bad-key"]
    assert "<testsuite" in junit.read_text(encoding="utf-8")
    for text in (result.output, report.read_text(), junit.read_text()):
        assert "sk_live_demo" not in text  # the naive client even puts the key in its URLs
