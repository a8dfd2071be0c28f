"""``soc-conformance server`` end to end, against the real mock on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.server.run import load_server_checks
from mockserver.app import create_app
from mockserver.liveserver import LiveServer
from tests.conformance.planted import FAST_FREE_WINDOW
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY

PRO, FREE, EXPIRED = PRO_KEY, FREE_KEY, EXPIRED_KEY


@pytest.fixture
def mock_url() -> Iterator[str]:
    # The Free tier's 10 requests a window of 2 s, not a minute: the 429 check waits seconds.
    with LiveServer(create_app(FAST_FREE_WINDOW)) as server:
        yield server.url


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["server", *args], env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_server_check_passes_on_the_mock_with_strict(mock_url: str, tmp_path: Path) -> None:
    names = [spec.name for spec in load_server_checks()]
    report = tmp_path / "report.json"
    args = ["--base-url", mock_url, "--api-key", PRO, "--free-key", FREE]
    args += ["--expired-key", EXPIRED, "--strict", "--seed", "11", "--max-examples", "8"]
    args += ["--max-requests", "400", "--json", str(report)]
    for name in names:
        args += ["--check", name]
    code, out, err = invoke(*args)
    assert code == 0, out
    assert "seed: 11" in err
    data = json.loads(report.read_text())
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert statuses == dict.fromkeys(names, "passed")
    for text in (out, err, report.read_text()):
        assert PRO not in text
        assert FREE not in text


@pytest.mark.slow
def test_the_full_run_on_the_mock_is_conformant_with_strict(mock_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    args = ["--base-url", mock_url, "--api-key", PRO, "--free-key", FREE, "--expired-key", EXPIRED]
    args += ["--strict", "--seed", "3", "--max-examples", "5", "--junitxml", str(junit)]
    code, out, _ = invoke(*args)
    assert "compile matrix" in out
    assert junit.read_text().startswith("<?xml")
    assert code == 0, out


def test_the_environment_configures_the_run_and_the_cli_wins(mock_url: str) -> None:
    env = {
        "SOCDEFENDERS_BASE_URL": "http://127.0.0.1:9",  # overridden below
        "SOCDEFENDERS_API_KEY": PRO,
        "SOCDEFENDERS_SEED": "5",
    }
    code, out, err = invoke(
        "--base-url", mock_url, "--check", "missing_key_is_401_missing_api_key", env=env
    )
    assert code == 0, out + err
    assert "seed: 5" in err
    assert mock_url in out


def test_an_unreachable_target_exits_3_with_a_precise_message() -> None:
    code, out, err = invoke("--base-url", "http://127.0.0.1:9", "--api-key", PRO, "--seed", "1")
    assert code == 3
    assert "no API answers at http://127.0.0.1:9" in err
    assert len(err.strip().splitlines()) == 1, err  # one line, before any seed or report
    assert "Traceback" not in out + err
    assert PRO not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api-key", PRO], "no base URL"),
        (["--base-url", "http://127.0.0.1:9"], "no API key"),
        (["--base-url", "ftp://x", "--api-key", PRO], "not an http(s) URL"),
        (["--base-url", "http://127.0.0.1:9", "--api-key", PRO, "--check", "nope"], "nope"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2
    assert message in err


def test_a_spent_budget_is_could_not_test_and_names_the_option(mock_url: str) -> None:
    code, out, _ = invoke("--base-url", mock_url, "--api-key", PRO, "--max-requests", "6")
    assert code == 3
    assert "request budget of 6 requests is spent (raise --max-requests)" in out
    assert "not run: could not test" in out or "skipped" in out
