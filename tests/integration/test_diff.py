"""``soc-conformance diff`` over loopback: planted differences named, equivalents left alone,
a replay equal to what it recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from conformance.cli import main
from conformance.diff.config import DiffConfig
from conformance.diff.run import run_diff
from conformance.results import RunResult, Status
from mockserver.app import create_app
from mockserver.cassette import CASSETTE_FILE
from mockserver.config import MockConfig
from mockserver.fixtures import IOCS_FILE
from mockserver.liveserver import LiveServer
from mockserver.recording import record
from mockserver.replay import Replay, install_replay
from tests.conformance.planted import Planted, documents, is_rules
from tests.integration.upstreams import SECRET_KEY, mock_app, planted_upstream

SEED = 3
BUDGET = 30


def _diff(a: str, b: str, **options: Any) -> RunResult:
    return run_diff(
        DiffConfig(a, b, SECRET_KEY, SECRET_KEY, seed=SEED, max_requests=BUDGET, **options)
    )


def _failed(result: RunResult) -> dict[str, list[Any]]:
    return {c.name: c.findings for c in result.checks if c.status(strict=False) is Status.FAILED}


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[str]:
    with LiveServer(mock_app(tmp_path)) as server:
        yield server.url


def test_diff_names_each_planted_difference_and_nothing_else(mock: str, tmp_path: Path) -> None:
    with LiveServer(planted_upstream(tmp_path)) as upstream:
        result = _diff(mock, upstream.url)
    failed = _failed(result)
    assert result.exit_code() == 1
    assert set(failed) == {
        "error_code_is_the_same",  # error_code
        "rate_limit_semantics_are_the_same",  # reset_ms
        "no_rules_only_in_b",  # since_by_day: B lets in the whole day
        "same_rule_has_the_same_content",  # domain_field, url_tags
    }
    (code,) = failed["error_code_is_the_same"]
    assert (code.received, code.expected) == ("A: invalid_parameter", "B: bad_request")
    (rate,) = failed["rate_limit_semantics_are_the_same"]
    assert "X-RateLimit-Reset" in rate.message
    assert rate.received.startswith("A: Unix seconds")
    assert rate.expected.startswith("B: Unix milliseconds")
    assert all("since=" in f.message for f in failed["no_rules_only_in_b"])
    content = sorted(f.message.split(" (e.g.")[0] for f in failed["same_rule_has_the_same_content"])
    assert content == ["domain rules differ in: detection", "url rules differ in: tags"]
    for findings in failed.values():  # every difference with both curl lines, keys redacted
        for finding in findings:
            assert finding.reproduction.curl
            assert finding.reproduction.curl_b
            assert SECRET_KEY not in finding.reproduction.curl + finding.reproduction.curl_b


@pytest.mark.parametrize(
    ("plant", "caught"),
    [
        ("domain_field", {"same_rule_has_the_same_content"}),
        ("url_tags", {"same_rule_has_the_same_content"}),
        ("since_by_day", {"no_rules_only_in_b"}),
        ("error_code", {"error_code_is_the_same"}),
        ("reset_ms", {"rate_limit_semantics_are_the_same"}),
        ("other_ids", {"same_ioc_has_the_same_id"}),
        ("text_yaml", {"media_type_is_the_same"}),
        ("no_match_404", {"status_is_the_same"}),
    ],
)
def test_each_plant_alone_is_caught_by_its_check_alone(
    mock: str, tmp_path: Path, plant: str, caught: set[str]
) -> None:
    with LiveServer(planted_upstream(tmp_path, (plant,))) as upstream:
        assert set(_failed(_diff(mock, upstream.url))) == caught


def test_equivalent_servers_are_equivalent(mock: str, tmp_path: Path) -> None:
    """Another order and a leading ``---`` are no difference: the rules are the same."""

    def newest_first(request: Request, response: Response) -> Response:
        if is_rules(request, response):
            response.set_data("".join("---\n" + d for d in reversed(documents(response))).encode())
        return response

    app = mock_app(tmp_path)
    app.wsgi_app = Planted(app.wsgi_app, response=newest_first)  # type: ignore[method-assign]
    with LiveServer(app) as other:
        result = _diff(mock, other.url)
    assert _failed(result) == {}
    assert result.exit_code() == 0
    assert f"({BUDGET - 1} of {BUDGET - 1} queries compared)" in result.subject


def test_a_replay_is_equivalent_to_its_upstream_for_the_recorded_queries(tmp_path: Path) -> None:
    with LiveServer(planted_upstream(tmp_path)) as upstream:
        summary = record(upstream.url, SECRET_KEY, tmp_path / "rec")
        replay_app = create_app(
            MockConfig(fixtures=tmp_path / "rec" / IOCS_FILE, keys=tmp_path / "upstream-keys.json")
        )
        install_replay(replay_app, Replay.load(tmp_path / "rec" / CASSETTE_FILE, only=True))
        with LiveServer(replay_app) as replay:
            result = run_diff(
                DiffConfig(
                    upstream.url,
                    replay.url,
                    SECRET_KEY,
                    SECRET_KEY,
                    max_requests=100,
                    queries_from=tmp_path / "rec" / CASSETTE_FILE,
                )
            )
    sigma_queries = summary.interactions - 1  # one /api/v1/iocs page
    assert f"({sigma_queries} of {sigma_queries} queries compared)" in result.subject
    assert _failed(result) == {}
    assert result.exit_code() == 0


def test_the_cli_writes_reports_with_both_curl_lines_and_no_key(mock: str, tmp_path: Path) -> None:
    with LiveServer(planted_upstream(tmp_path, ("error_code",))) as upstream:
        result = CliRunner().invoke(
            main,
            [
                "diff",
                "--base-url",
                mock,
                "--base-url",
                upstream.url,
                "--seed",
                str(SEED),
                "--max-requests",
                "12",
                "--json",
                str(tmp_path / "r.json"),
                "--junitxml",
                str(tmp_path / "r.xml"),
            ],
            env={"SOCDEFENDERS_API_KEY": SECRET_KEY},
        )
    assert result.exit_code == 1, result.output
    assert "DIFFERENT: 7 passed, 1 failed" in result.output
    assert "reproduce A: curl" in result.output
    assert "reproduce B: curl" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    (check,) = [c for c in report["checks"] if c["status"] == "failed"]
    assert check["name"] == "error_code_is_the_same"
    assert check["findings"][0]["reproduction"]["curl_b"].startswith("curl ")
    written = result.output + (tmp_path / "r.json").read_text() + (tmp_path / "r.xml").read_text()
    assert SECRET_KEY not in written
    assert "sk_live_…9xYw" in written


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--base-url", "http://127.0.0.1:9"], 2, "exactly twice"),
        (["--base-url", "ftp://x", "--base-url", "http://127.0.0.1:9"], 2, "not an http(s) URL"),
        (["--base-url", "MOCK", "--base-url", "http://127.0.0.1:9"], 3, "side B"),
        (
            ["--base-url", "MOCK", "--base-url", "MOCK", "--api-key-b", "sk_live_wrong_key_1234"],
            3,
            "side B (http://127.0.0.1:",
        ),
    ],
)
def test_usage_errors_exit_2_and_untestable_sides_exit_3(
    mock: str, args: list[str], code: int, message: str
) -> None:
    args = [mock if a == "MOCK" else a for a in args]
    result = CliRunner().invoke(
        main,
        ["diff", *args, "--max-requests", "5", "--timeout", "2"],
        env={"SOCDEFENDERS_API_KEY": SECRET_KEY},
    )
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert SECRET_KEY not in result.output


def test_queries_from_a_file_that_is_no_cassette_is_a_usage_error(
    mock: str, tmp_path: Path
) -> None:
    (tmp_path / "not.yaml").write_text("- just a list\n")
    (tmp_path / "empty.yaml").write_text("interactions: []\nversion: 1\n")
    for name, message in (("not.yaml", "not a VCR cassette"), ("empty.yaml", "records no")):
        result = CliRunner().invoke(
            main,
            [
                "diff",
                "--base-url",
                mock,
                "--base-url",
                mock,
                "--max-requests",
                "3",
                "--queries-from",
                str(tmp_path / name),
            ],
            env={"SOCDEFENDERS_API_KEY": SECRET_KEY},
        )
        assert result.exit_code == 2, result.output
        assert message in result.output
