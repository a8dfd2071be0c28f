"""``soc-conformance client``: options, usage errors, the client's environment, timeouts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.clientmode.scenarios import SCENARIOS
from tests.keys import PRO_KEY

PY = sys.executable


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, ["client", *args])


def test_list_scenarios() -> None:
    result = CliRunner().invoke(main, ["client", "--list-scenarios"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [s.name for s in SCENARIOS]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "sunny", "--", PY, "-c", "pass"], "unknown scenario(s): sunny"),
        (["--scenario", "happy"], "no client command"),
        (["--check", "is_polite", "--", PY, "-c", "pass"], "unknown check(s): is_polite"),
        (["--timeout", "0", "--", PY, "-c", "pass"], "--timeout must be positive"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["client", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_command_that_cannot_start_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["client", "--scenario", "happy", "--", str(tmp_path / "no-such-client")]
    )
    assert result.exit_code == 3
    assert "could not test: cannot run" in result.output


def test_the_client_gets_its_environment_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCDEFENDERS_STATE_FILE", "/somewhere/else.json")
    seen = tmp_path / "env.json"
    script = (
        "import json, os, sys; "
        "json.dump({k: v for k, v in os.environ.items() if k.startswith('SOCDEFENDERS_')}, "
        "open(sys.argv[1], 'w'))"
    )
    result = CliRunner().invoke(
        main, ["client", "--scenario", "happy", "--", PY, "-c", script, str(seen)]
    )
    env = json.loads(seen.read_text())
    assert set(env) == {"SOCDEFENDERS_BASE_URL", "SOCDEFENDERS_API_KEY", "SOCDEFENDERS_RULES_FILE"}
    assert env["SOCDEFENDERS_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["SOCDEFENDERS_API_KEY"] == PRO_KEY
    assert Path(env["SOCDEFENDERS_RULES_FILE"]).name == "rules.yml"
    assert not Path(env["SOCDEFENDERS_RULES_FILE"]).parent.exists()  # the scratch dir is gone
    # It fetched nothing and exited 0: not a sync.
    assert result.exit_code == 1
    assert "exit 0 without one intact answer of the Sigma endpoint" in result.output


def test_a_hung_client_is_killed_at_the_timeout() -> None:
    result = CliRunner().invoke(
        main,
        ["client", "--scenario", "happy", "--timeout", "0.5", "--check",
         "completes_within_the_timeout", "--", PY, "-c", "import time; time.sleep(60)"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "killed at the timeout" in result.output
