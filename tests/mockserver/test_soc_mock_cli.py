"""``soc-mock`` commands through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mockserver.cli import banner, main


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("SOCMOCK_KEYS", "SOCMOCK_PORT", "SOCMOCK_NOW"):
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
    assert "sk_live_demo_pro" in result.output
    assert "sk_live_demo_revoked" in result.output
    assert "customsecret" not in result.output
    assert "sk_live_…9876" in result.output


def test_bad_keys_file_is_a_clean_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["keys", "--keys", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_serve_rejects_bad_options(runner: CliRunner) -> None:
    result = runner.invoke(main, ["serve", "--rate-limit", "gold=1/minute"])
    assert result.exit_code == 2
    assert "TIER=LIMITS" in result.output
    result = runner.invoke(main, ["serve", "--now", "someday"])
    assert result.exit_code == 1
    assert "ISO 8601" in result.output


def test_banner_shows_keys_and_working_commands() -> None:
    text = banner("http://127.0.0.1:8000", [("sk_live_demo_pro", "pro", "active")])
    assert "sk_live_demo_pro" in text
    assert "curl -fsS -H 'Authorization: Bearer sk_live_demo_pro'" in text
    assert "http://127.0.0.1:8000/api/v1/iocs/sigma?" in text
    assert "sigma convert -t splunk -p sysmon rules.yml" in text
