"""``soc-conformance rules`` through click's CliRunner: files, stdin, reports, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.commands.rules import rules_command
from tests.conformance.rule_samples import GOOD_VALUES, body, sample_rule

FAST = ["--targets", "splunk+sysmon", "--workers", "1"]


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_bytes(body(*(sample_rule(t) for t in GOOD_VALUES)))
    return path


def test_good_file_exits_zero(good_file: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(good_file), *FAST])
    assert result.exit_code == 0, result.output
    assert "CONFORMANT" in result.output
    assert "splunk+sysmon (required)" in result.output


def test_stdin_with_a_defect_exits_one() -> None:
    raw = body(sample_rule("url", "http://evil.example/a?b=c", escape=False))
    result = CliRunner().invoke(rules_command, ["-", *FAST], input=raw)
    assert result.exit_code == 1
    assert "detection_value_is_literal_ioc: FAILED" in result.output
    assert "<stdin>" in result.output


def test_reports_are_written(good_file: Path, tmp_path: Path) -> None:
    json_path, xml_path = tmp_path / "r.json", tmp_path / "r.xml"
    args = [str(good_file), *FAST, "--json", str(json_path), "--junitxml", str(xml_path)]
    result = CliRunner().invoke(rules_command, args)
    assert result.exit_code == 0, result.output
    assert json.loads(json_path.read_text())["mode"] == "rules"
    assert "<testsuite" in xml_path.read_text()


def test_unreadable_file_exits_three(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(tmp_path / "missing.yml"), *FAST])
    assert result.exit_code == 3
    assert "cannot read" in result.output


def test_unknown_check_exits_two(good_file: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(good_file), "--check", "no_such_check"])
    assert result.exit_code == 2
    assert "no_such_check" in result.output


def test_check_and_exclude_select_by_name(good_file: Path) -> None:
    dup = body(sample_rule(), sample_rule())
    runner = CliRunner()
    only = runner.invoke(rules_command, ["-", "--check", "id_is_uuid", *FAST], input=dup)
    assert only.exit_code == 0
    assert "rule_ids_are_unique" not in only.output
    excluded = runner.invoke(
        rules_command,
        ["-", "--exclude", "rule_ids_are_unique,one_rule_per_ioc", *FAST],
        input=dup,
    )
    assert excluded.exit_code == 0, excluded.output


def test_uuid_v4_flag(good_file: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(good_file), "--uuid-v4", *FAST])
    assert result.exit_code == 1
    assert "id_is_uuid_v4: FAILED" in result.output


def test_require_target_turns_an_advisory_failure_into_a_failure() -> None:
    raw = body(sample_rule("domain"))
    args = ["-", "--targets", "splunk+sysmon,kusto+sentinel_asim", "--workers", "1"]
    assert CliRunner().invoke(rules_command, args, input=raw).exit_code == 0
    required = CliRunner().invoke(
        rules_command, [*args, "--require-target", "kusto+sentinel_asim"], input=raw
    )
    assert required.exit_code == 1


def test_bad_target_is_a_usage_error(good_file: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(good_file), "--targets", "nosuch+sysmon"])
    assert result.exit_code == 2
    assert "nosuch" in result.output


def test_findings_name_file_line_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "feed.yml"
    path.write_bytes(
        body(sample_rule("md5"), sample_rule("url", "http://evil.example/a?b=c", escape=False))
    )
    result = CliRunner().invoke(
        rules_command, [str(path), *FAST, "--check", "detection_value_is_literal_ioc"]
    )
    assert result.exit_code == 1
    flat = " ".join(result.output.split())  # the report wraps long lines
    line = flat.split("unescaped Sigma wildcard", 1)[1].split("received:", 1)[0]
    assert f"{path}:" in line
    assert "document 2" in line  # counted from 1
    assert "rule 'SOC Defenders" in line


def test_ids_are_unique_across_files_and_directories_are_read(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.yml").write_bytes(body(sample_rule("md5")))
    (tmp_path / "a" / "notes.txt").write_text("not a rule file")
    (tmp_path / "two.yaml").write_bytes(body(sample_rule("md5")))
    args = [
        str(tmp_path / "a"),
        str(tmp_path / "two.yaml"),
        *FAST,
        "--check",
        "rule_ids_are_unique",
    ]
    result = CliRunner().invoke(rules_command, args)
    assert result.exit_code == 1, result.output
    assert "one.yml:1 (document 1)" in " ".join(result.output.split())  # wrapped
