"""``soc-conformance targets`` and the vendor's SIEM names as ``--targets`` aliases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from conformance import contract
from conformance.cli import main
from conformance.commands.rules import rules_command
from conformance.server.config import ServerConfig
from conformance.target_aliases import VENDOR_ALIASES, alias_of, resolve_targets
from mockserver.app import create_app
from mockserver.liveserver import LiveServer
from tests.conformance.rule_samples import body, sample_rule
from tests.keys import PRO_KEY


def test_every_vendor_name_resolves_to_a_default_target() -> None:
    assert set(VENDOR_ALIASES) == {"splunk", "elastic", "sentinel", "qradar"}
    assert set(VENDOR_ALIASES.values()) == set(contract.DEFAULT_TARGETS)
    for alias, target in VENDOR_ALIASES.items():
        assert alias_of(target) == alias


def test_resolve_keeps_order_drops_repeats_and_passes_pairs_through() -> None:
    targets, used = resolve_targets(["Elastic", "splunk+splunk_windows", "lucene+ecs_windows"])
    assert targets == ("lucene+ecs_windows", "splunk+splunk_windows")
    assert used == {"lucene+ecs_windows": "elastic"}
    assert resolve_targets(["splunk+sysmon"]) == (("splunk+sysmon",), {})


@pytest.mark.parametrize("mode", ["rules", "server"])
def test_a_name_that_is_neither_an_alias_nor_a_pair_is_a_usage_error(mode: str) -> None:
    args = [mode, "--targets", "elasticsearch"]
    if mode == "rules":
        args.append("-")
    else:
        args += ["--base-url", "http://127.0.0.1:9", "--api-key", "sk_live_x"]
    result = CliRunner().invoke(main, args, input=b"")
    assert result.exit_code == 2
    assert "'elasticsearch' is neither backend+pipeline nor one of the vendor's names" in (
        result.output
    )
    assert "splunk, elastic, sentinel, qradar" in result.output


def test_targets_command_lists_roles_aliases_and_installed_plugins() -> None:
    result = CliRunner().invoke(main, ["targets"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line}
    for target in contract.REQUIRED_TARGETS:
        assert rows[target][:3] == ["required", alias_of(target), "installed"]
    for target in contract.ADVISORY_TARGETS:
        assert rows[target][:3] == ["advisory", alias_of(target), "installed"]
    # Installed backends and pipelines beyond the defaults are listed too.
    assert "splunk_spl2" in rows
    assert "splunk_windows" in rows


def test_targets_command_names_what_is_not_installed() -> None:
    from conformance.commands.targets import targets_text
    from conformance.rules.toolchain import installed_plugins

    plugins = installed_plugins()

    class WithoutKusto:
        backends: ClassVar = {k: v for k, v in plugins.backends.items() if k != "kusto"}

        def get_pipeline_resolver(self) -> object:
            return plugins.get_pipeline_resolver()

    text = targets_text(WithoutKusto())
    line = next(x for x in text.splitlines() if x.strip().startswith("kusto+sentinel_asim"))
    assert "NOT INSTALLED (backend)" in line
    line = next(x for x in text.splitlines() if x.strip().startswith("splunk+sysmon"))
    assert line.rstrip().endswith(" installed")


def test_rules_mode_resolves_aliases_and_names_the_pair_in_the_reports(tmp_path: Path) -> None:
    raw = body(sample_rule("domain"))
    report = tmp_path / "report.json"
    args = ["-", "--targets", "splunk,sentinel", "--workers", "1", "--json", str(report)]
    result = CliRunner().invoke(rules_command, args, input=raw)
    # sentinel (kusto+sentinel_asim) cannot compile the documented DNS rule, but is advisory.
    assert result.exit_code == 0, result.output
    assert "splunk=splunk+sysmon (required)" in result.output
    assert "sentinel=kusto+sentinel_asim" in result.output
    assert "sentinel=kusto+sentinel_asim (required)" not in result.output
    matrix = json.loads(report.read_text())["matrix"]
    assert matrix["targets"] == ["splunk+sysmon", "kusto+sentinel_asim"]
    assert matrix["aliases"] == {"splunk+sysmon": "splunk", "kusto+sentinel_asim": "sentinel"}


def test_a_required_alias_makes_its_target_required() -> None:
    raw = body(sample_rule("domain"))
    args = ["-", "--targets", "splunk", "--require-target", "sentinel", "--workers", "1"]
    result = CliRunner().invoke(rules_command, args, input=raw)
    assert result.exit_code == 1, result.output
    assert "sentinel=kusto+sentinel_asim (required)" in result.output


def test_server_mode_resolves_aliases_from_options_and_environment() -> None:
    config = ServerConfig.from_sources(
        {"base_url": "http://127.0.0.1:1", "api_key": "sk_live_x", "targets": ("elastic",)},
        {"SOCDEFENDERS_REQUIRE_TARGET": "qradar"},
    )
    assert config.targets == ("lucene+ecs_windows",)
    assert config.required() == ("lucene+ecs_windows", "qradar-aql-community+qradar-aql-fields")
    assert dict(config.target_aliases) == {
        "lucene+ecs_windows": "elastic",
        "qradar-aql-community+qradar-aql-fields": "qradar",
    }


@pytest.mark.slow
def test_server_mode_names_the_pair_an_alias_resolved_to(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ["server", "--api-key", PRO_KEY, "--seed", "1", "--targets", "elastic"]
    args += ["--check", "rules_compile_on_required_targets", "--json", str(report)]
    with LiveServer(create_app()) as server:
        result = CliRunner().invoke(main, [*args, "--base-url", server.url])
    assert result.exit_code == 0, result.output
    assert "elastic=lucene+ecs_windows (required)" in result.stdout
    assert json.loads(report.read_text())["matrix"]["aliases"] == {"lucene+ecs_windows": "elastic"}
