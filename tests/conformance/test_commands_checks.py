"""``soc-conformance checks``: every check with its statement and severities, and the README's
table is exactly what the registry holds."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from conformance.cli import main
from conformance.commands.checks import all_checks, markdown_table
from conformance.statements import STATEMENTS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_registered_check_has_a_statement_and_every_statement_a_check() -> None:
    names = {spec.name for spec in all_checks()}
    assert names - set(STATEMENTS) == set(), "checks without a statement"
    assert set(STATEMENTS) - names == set(), "statements of no check"
    for spec in all_checks():
        assert spec.statement is STATEMENTS[spec.name]
        assert spec.statement.default
        assert spec.statement.strict


def test_the_command_lists_every_check_with_both_severities() -> None:
    result = CliRunner().invoke(main, ["checks"])
    assert result.exit_code == 0, result.output
    for spec in all_checks():
        assert f"{spec.name}  [{spec.scope};" in result.output
    block = result.output.split("rate_limit_headers_on_every_response  [")[1].split("\n\n")[0]
    assert "by default:    failure; warning: 401s" in block
    client_only = CliRunner().invoke(main, ["checks", "--scope", "client"]).output
    assert "misses_nothing_across_runs" in client_only
    assert "since_is_strict" not in client_only


def test_the_readme_table_is_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- checks-table:start -->\n(.*?)<!-- checks-table:end -->", text, re.S)
    assert match, "the README lost its checks table"
    assert match.group(1) == markdown_table()
    printed = CliRunner().invoke(main, ["checks", "--markdown"]).output
    assert printed == match.group(1)


def test_documented_violations_fail_by_default() -> None:
    for name in (
        "rate_limit_headers_on_every_response",
        "over_the_limit_is_429_rate_limit_exceeded",
        "since_is_strict",
        "since_with_an_offset_is_the_same_instant",
        "industry_filter_narrows_the_feed",
        "hash_label_matches_the_value",
    ):
        assert STATEMENTS[name].default.startswith("failure"), name


def test_the_help_names_the_checks_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "checks" in result.output
