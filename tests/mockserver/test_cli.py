"""``soc-mock`` commands through click's runner."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mockserver.cli import banner, main
from tests.keys import PRO_KEY, REVOKED_KEY


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("SOCMOCK_KEYS", "SOCMOCK_PORT", "SOCMOCK_NOW", "SOCMOCK_FAULTS",
                 "SOCMOCK_FAULTS_ENABLED", "SOCMOCK_FAULT_SEED", "SOCMOCK_MOVING_CLOCK",
                 "SOCMOCK_CLOCK_STEP"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_generate_is_deterministic(runner: CliRunner, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for target in (first, second):
        result = runner.invoke(
            main, ["generate", "--seed", "5", "--count", "50", "-o", str(target)]
        )
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text(encoding="utf-8"))
    assert document["meta"]["count"] == 50
    assert len(document["iocs"]) == 50


def test_generate_to_stdout_with_now(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["generate", "--seed", "1", "--count", "3", "--now", "2025-01-01T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["meta"]["now"] == "2025-01-01T00:00:00Z"
    refused = runner.invoke(main, ["generate", "--seed", "1", "--count", "3", "--now", "real"])
    assert refused.exit_code == 2


def test_keys_lists_demo_keys_and_redacts_others(runner: CliRunner, tmp_path: Path) -> None:
    extra = tmp_path / "keys.json"
    extra.write_text(
        json.dumps({"keys": [{"key": "sk_live_customsecret9876", "tier": "free"}]}),
        encoding="utf-8",
    )
    result = runner.invoke(main, ["keys", "--keys", str(extra)])
    assert result.exit_code == 0, result.output
    assert PRO_KEY in result.output
    assert REVOKED_KEY in result.output
    assert "customsecret" not in result.output
    assert "sk_live_…9876" in result.output


def test_bad_keys_file_is_a_clean_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["keys", "--keys", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_serve_rejects_bad_options(runner: CliRunner) -> None:
    result = runner.invoke(main, ["serve", "--rate-limit", "gold=1/minute"])
    assert result.exit_code == 2
    assert "TIER=LIMITS" in result.output
    result = runner.invoke(main, ["serve", "--now", "someday"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


def test_banner_shows_keys_and_working_commands() -> None:
    text = banner("http://127.0.0.1:8000", [(PRO_KEY, "pro", "active")])
    assert PRO_KEY in text
    assert "curl -fsS -H 'Authorization: Bearer sk_live_demo_pro'" in text
    assert "http://127.0.0.1:8000/api/v1/iocs/sigma?" in text
    assert "sigma convert -t splunk -p sysmon rules.yml" in text


class _FakeServer:
    """Stands in for the HTTP server: records the app it was given, binds nothing."""

    def __init__(self, served: list[Any], app: Any, host: str, port: int, **_: Any) -> None:
        self.port = port or 8123
        served.append(getattr(app, "app", app))  # under the access log, the app itself

    def start(self) -> _FakeServer:
        return self

    def stop(self) -> None:
        pass


def serve(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, Any]:
    """Run ``soc-mock serve ARGS`` as far as serving (then 'Ctrl+C' at once): (result, app)."""
    from mockserver import serving, workers

    served: list[Any] = []
    # One process, served by the fake: forking worker processes is test_workers' business.
    monkeypatch.setattr(workers, "default_workers", lambda: 1)
    monkeypatch.setattr(
        serving, "GranianServer", lambda app, host, port, **kw: _FakeServer(served, app, host, port)
    )
    monkeypatch.setattr(serving, "wait_for_interrupt", lambda stop: stop())
    result = runner.invoke(main, ["serve", *args])
    return result, served[0] if served else None


def test_serve_wires_faults_and_the_moving_clock(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, app = serve(
        runner, monkeypatch, "--fault", "503:0.5", "--fault", "latency:20ms", "--fault-seed", "9",
        "--clock-step", "1d", "--no-access-log",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = app.extensions["socmock"].config
    assert [str(s) for s in config.faults.specs] == ["503:0.5", "latency:0.02s"]
    assert (config.faults.enabled, config.faults.seed) == (True, 9)
    assert config.clock_step == timedelta(days=1)
    assert "Faults on (seed 9): 503:0.5, latency:0.02s" in result.output
    assert "Moving clock, +1d after each Sigma answer" in result.output
    client = app.test_client()
    assert client.get("/_admin/clock").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    forced = client.get(
        "/api/v1/iocs/sigma",
        headers={"Authorization": f"Bearer {PRO_KEY}", "X-Mock-Fault": "502"},
    )
    assert forced.status_code == 502


def test_serve_faults_from_env_and_no_faults_turns_them_off(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCMOCK_FAULTS", "500:max=1, truncate")
    monkeypatch.setenv("SOCMOCK_FAULT_SEED", "3")
    result, app = serve(runner, monkeypatch, "--no-access-log")
    assert result.exit_code == 0, result.output
    faults = app.extensions["socmock"].config.faults
    assert [s.name for s in faults.specs] == ["500", "truncate"]
    assert faults.seed == 3
    result, app = serve(runner, monkeypatch, "--no-faults", "--no-access-log")
    assert result.exit_code == 0, result.output
    assert not app.extensions["socmock"].config.faults.enabled
    header = {"Authorization": f"Bearer {PRO_KEY}", "X-Mock-Fault": "500"}
    refused = app.test_client().get("/api/v1/iocs/sigma", headers=header)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "fault_injection_refused"
    assert app.test_client().get("/_admin/clock").status_code == 404


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "teapot"], "unknown fault"),
        (["--fault", "503", "--no-faults"], "--no-faults contradicts --fault"),
        (["--clock-step", "soon"], "duration"),
    ],
)
def test_serve_refuses_bad_fault_and_clock_options(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    result, app = serve(runner, monkeypatch, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert app is None


def test_faults_command_lists_every_fault_one_line_each(runner: CliRunner) -> None:
    from mockserver.faults import FAULTS

    result = runner.invoke(main, ["faults"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == list(FAULTS)
    assert all(len(line.split(None, 1)[1]) > 10 for line in lines)
