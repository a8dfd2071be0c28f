"""``soc-conformance client`` end to end: the careful examples pass every scenario (the merging
one judged as "accumulate", the vendor's delta recipe as "latest"), the naive one fails exactly
the checks its defects break, scenario by scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.clientmode.outcome import ScenarioOutcome
from conformance.clientmode.run import (
    ClientConfig,
    file_model,
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
DELTA = (sys.executable, str(EXAMPLES / "delta_sync.py"), "--backoff", "0.1")

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


@pytest.fixture(scope="module")
def delta_outcomes() -> list[ScenarioOutcome]:
    """Every scenario run once by the delta client (judged below under each file model)."""
    config = ClientConfig(command=DELTA, timeout=120)
    dataset = load_reference_dataset(None)
    return [run_scenario(scenario, config, dataset) for scenario in SCENARIOS]


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
    assert "judged as 'accumulate': inferred from the runs" in sync_result.subject


def test_delta_client_passes_every_scenario_as_latest(
    delta_outcomes: list[ScenarioOutcome],
) -> None:
    config = ClientConfig(command=DELTA)
    assert file_model(delta_outcomes, config) == ("latest", "inferred from the runs")
    results = judge_outcomes(delta_outcomes, config)
    assert {r.name: r.status(strict=False) for r in results} == {
        r.name: Status.PASSED for r in results
    }, [(r.name, [f.message for f in r.findings], r.skip_reason) for r in results]
    # After the run with nothing new (empty-200: no clock move) the file is empty, as curl -o
    # leaves it; the incremental scenario's files each hold one delta.
    by_name = {o.scenario.name: o for o in delta_outcomes}
    assert by_name["empty-200"].runs[1].after == b""
    incremental = by_name["incremental"]
    assert all(run.after and run.after != run.before for run in incremental.runs)


def test_delta_client_judged_as_accumulating_fails_only_the_file_checks(
    delta_outcomes: list[ScenarioOutcome],
) -> None:
    results = judge_outcomes(delta_outcomes, ClientConfig(command=DELTA, file_model="accumulate"))
    failed = {r.name for r in results if r.status(strict=False) is Status.FAILED}
    assert failed == {"leaves_no_partial_or_corrupt_file", "writes_exactly_the_served_rules"}
    # "misses nothing" is judged over what the file held after each run: the deltas cover the
    # feed, so it holds under either model.
    assert {r.name: r.status(strict=False) for r in results}[
        "misses_nothing_across_runs"
    ] is Status.PASSED


def test_cli_file_model_flag_is_judged_and_named(tmp_path: Path) -> None:
    report = tmp_path / "client.json"
    result = CliRunner().invoke(
        main,
        ["client", "--scenario", "incremental", "--file-model", "latest", "--json", str(report),
         "--", *SYNC],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # the merging client is not a delta client
    assert "judged as 'latest': --file-model" in result.stdout
    document = json.loads(report.read_text(encoding="utf-8"))
    assert "'latest'" in document["subject"]
    failed = {c["name"] for c in document["checks"] if c["status"] == "failed"}
    assert failed == {"leaves_no_partial_or_corrupt_file", "writes_exactly_the_served_rules"}
    bad = CliRunner().invoke(main, ["client", "--file-model", "newest", "--", *SYNC])
    assert bad.exit_code == 2


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


def test_a_client_that_sends_nothing_is_not_passed_on_nothing(tmp_path: Path) -> None:
    report = tmp_path / "client.json"
    result = CliRunner().invoke(
        main,
        ["client", "--scenario", "happy", "--json", str(report), "--", sys.executable, "-c",
         "pass"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # it did not sync: that is judged, and fails
    checks = {c["name"]: c for c in json.loads(report.read_text(encoding="utf-8"))["checks"]}
    assert checks["succeeds_when_the_feed_is_served"]["status"] == "failed"
    for name in (
        "sends_the_key_in_a_header",
        "sends_only_documented_parameters",
        "leaves_no_partial_or_corrupt_file",
        "writes_exactly_the_served_rules",
    ):
        assert checks[name]["status"] == "skipped", name
    assert "the client sent no request" in str(checks["sends_the_key_in_a_header"])
    assert not any(c["status"] == "passed" for c in checks.values() if "send" in c["name"])
