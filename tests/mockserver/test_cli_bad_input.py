"""Bad input to ``soc-mock``: one clear line on standard error, exit code 2, never a traceback.

Through click's runner, and once through a real subprocess (what a user's shell sees).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mockserver.cli import main
from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records

ENV_NAMES = ("SOCMOCK_KEYS", "SOCMOCK_PORT", "SOCMOCK_NOW", "SOCMOCK_FIXTURES", "SOCMOCK_FAULTS",
             "SOCMOCK_FAULTS_ENABLED", "SOCMOCK_MOVING_CLOCK", "SOCMOCK_CLOCK_STEP",
             "SOCMOCK_ADMIN", "SOCMOCK_RATE_LIMIT")  # fmt: skip


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def one_line_usage_error(result: Result) -> str:
    """The error line, after checking the answer is exactly one line and exit code 2."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def fixtures(tmp_path: Path, **changes: Any) -> Path:
    """A valid four-IOC file whose third record gets ``changes`` (``...``: remove the field)."""
    records = generate_records(3, 4)
    for name, value in changes.items():
        if value is ...:
            del records[2][name]
        else:
            records[2][name] = value
    path = tmp_path / "iocs.json"
    path.write_text(dump_dataset(generate_meta(3, 4), records), encoding="utf-8")
    return path


def test_generate_with_a_bogus_now(runner: CliRunner) -> None:
    result = runner.invoke(main, ["generate", "--seed", "1", "--count", "2", "--now", "bogus"])
    line = one_line_usage_error(result)
    assert "--now must be an ISO 8601 instant" in line
    assert "'bogus'" in line


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"source": ...}, "source", "missing; expected an object with feed_name and category"),
        ({"source": "x"}, "source", "expected an object"),
        ({"confidence": "extreme"}, "confidence", "expected one of low, medium, high"),
        ({"confidence": 3}, "confidence", "got number 3"),
        ({"value": ["192.0.2.1"]}, "value", "expected the indicator as a string"),
        ({"first_seen": "yesterday"}, "first_seen", "expected an ISO 8601 timestamp"),
        ({"last_seen": "2000-01-01T00:00:00Z"}, "last_seen", "at or after first_seen"),
        ({"tags": "apt"}, "tags", "expected a list of strings, got string 'apt'"),
        ({"tags": ["apt", 7]}, "tags[1]", "expected a string, got number 7"),
        ({"industries": ["banking"]}, "industries", "CISA sector slugs"),
        ({"mitre_techniques": ["X1"]}, "mitre_techniques", "ATT&CK technique ids"),
        ({"context": {"country": 5}}, "context.country", "expected string values"),
        ({"source": {"feed_name": "f", "category": "worm"}}, "source.category", "one of botnet"),
        ({"source": {"feed_name": "", "category": "c2"}}, "source.feed_name", "non-empty"),
        ({"type": "sha384"}, "type", "expected one of ipv4"),
        ({"id": "nope"}, "id", "expected "),
    ],
)
def test_a_bad_fixture_record_names_file_index_field_and_expectation(
    runner: CliRunner, tmp_path: Path, changes: dict[str, Any], field: str, expected: str
) -> None:
    path = fixtures(tmp_path, **changes)
    line = one_line_usage_error(runner.invoke(main, ["serve", "--fixtures", str(path)]))
    assert line.startswith(f"Error: {path}: iocs[2].{field}: ")
    assert expected in line


def test_the_fixture_helper_plants_only_the_change(tmp_path: Path) -> None:
    from mockserver.fixtures import load_dataset

    assert len(load_dataset(fixtures(tmp_path)).iocs) == 4  # unchanged: a valid file


@pytest.mark.parametrize("kind", ["missing", "directory", "not json"])
def test_a_bad_fixtures_path_is_one_code_whichever_way_it_came(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = {"missing": tmp_path / "nope.json", "directory": tmp_path, "not json": tmp_path / "x"}[
        kind
    ]
    if kind == "not json":
        path.write_text("{nope", encoding="utf-8")
    by_option = one_line_usage_error(runner.invoke(main, ["serve", "--fixtures", str(path)]))
    monkeypatch.setenv("SOCMOCK_FIXTURES", str(path))
    by_env = one_line_usage_error(runner.invoke(main, ["serve"]))
    assert by_option == by_env
    assert str(path) in by_option
    if kind == "directory":
        assert "is a directory" in by_option


def test_keys_file_errors_index_the_users_file(runner: CliRunner, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    records = [{"key": "sk_live_good_one", "tier": "pro"}, {"key": "sk_live_x2", "tier": "gold"}]
    keys.write_text(json.dumps({"keys": records}), encoding="utf-8")
    for command in (["keys", "--keys", str(keys)], ["serve", "--keys", str(keys)]):
        line = one_line_usage_error(runner.invoke(main, command))
        assert line.startswith(f"Error: {keys}: keys[1] (")  # the user's second key, not [5]
        assert "tier must be one of pro, free" in line
    records[0] = {"key": "not-a-key", "tier": "pro"}
    keys.write_text(json.dumps({"keys": records}), encoding="utf-8")
    line = one_line_usage_error(runner.invoke(main, ["keys", "--keys", str(keys)]))
    assert f"{keys}: keys[0]" in line
    assert "not-a-key" not in line


def test_a_keys_directory_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    line = one_line_usage_error(runner.invoke(main, ["keys", "--keys", str(tmp_path)]))
    assert "is a directory" in line


def test_a_subprocess_sees_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["generate", "--seed", "1", "--count", "2", "--now", "bogus"],
        ["serve", "--fixtures", str(tmp_path / "missing.json")],
        ["serve", "--fixtures", str(tmp_path)],
    ):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("soc-mock")), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stdout == ""
