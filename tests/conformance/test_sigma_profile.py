"""``rules --profile sigma`` on a corpus of general-purpose rules, and planted defects in it.

The corpus (``data/sigma_corpus``: Windows, Linux, AWS and network rules, a correlation and a
filter) is valid Sigma: ``sigma check`` (offline validators) and ``sigma convert -t splunk -p
sysmon`` accept every rule. The profile must report nothing on it, and each planted defect must
be reported by its own check with a message naming the rule (id or title, file and line).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conformance.commands.rules import rules_command

CORPUS = Path(__file__).parent / "data" / "sigma_corpus"
ONE = ["--workers", "1"]

_RULE = """\
title: {title}
id: {rule_id}
status: test
description: A planted defect in an otherwise ordinary rule of the test corpus.
author: soc-conformance tests
date: 2026-02-01
tags:
    - {tag}
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\{image}'
    filter_main:
        ParentImage|endswith: '\\explorer.exe'
    condition: {condition}
falsepositives:
    - Unknown
level: medium
"""


def _rule(
    title: str,
    rule_id: str,
    *,
    condition: str = "selection and not filter_main",
    tag: str = "attack.execution",
    image: str = "evil.exe",
) -> str:
    return _RULE.format(title=title, rule_id=rule_id, condition=condition, tag=tag, image=image)


def _run(*args: str) -> tuple[int, dict[str, Any], str]:
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "report.json")
        result = CliRunner().invoke(rules_command, [*args, "--json", path, *ONE])
        return result.exit_code, json.loads(Path(path).read_text()), result.output


def _findings(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    (found,) = [c for c in report["checks"] if c["name"] == check]
    return list(found["findings"])


def test_valid_corpus_has_no_finding_at_all(tmp_path: Path) -> None:
    corpus = tmp_path / "rules"
    shutil.copytree(CORPUS, corpus)
    code, report, output = _run(str(corpus), "--profile", "sigma")
    assert code == 0, output
    noisy = {c["name"]: c["findings"][:1] for c in report["checks"] if c["findings"]}
    assert noisy == {}
    assert {c["status"] for c in report["checks"]} == {"passed"}
    matrix = report["matrix"]
    assert matrix["rows"] == "logsource"
    rows = {cell["type"] for cell in matrix["cells"]}
    assert {"aws/-/cloudtrail", "linux/process_creation/-", "-/dns/-"} <= rows
    assert {"correlation", "filter"} <= rows  # meta-rules judged, not rejected


def test_vendor_checks_are_not_in_the_sigma_profile(tmp_path: Path) -> None:
    corpus = tmp_path / "rules"
    shutil.copytree(CORPUS / "linux", corpus)
    _, report, _ = _run(str(corpus), "--profile", "sigma", "--no-validators")
    names = {c["name"] for c in report["checks"]}
    assert "detection_value_is_literal_ioc" not in names
    assert "logsource_matches_type" not in names
    assert "detection_condition_is_valid" in names
    _, vendor, _ = _run(str(corpus), "--no-validators")
    flagged = _findings(vendor, "detection_value_is_literal_ioc")
    assert flagged  # the vendor profile still judges the IOC format (and these are no IOCs)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    corpus = tmp_path / "rules"
    shutil.copytree(CORPUS, corpus)
    bad = corpus / "planted"
    bad.mkdir()
    (bad / "missing_selection.yml").write_text(
        _rule(
            "Planted Missing Selection",
            "11111111-2222-4333-8444-555555555501",
            condition="selection and not filter_other",
        )
    )
    (bad / "unparsable.yaml").write_text(
        _rule(
            "Planted Unparsable Condition",
            "11111111-2222-4333-8444-555555555502",
            condition="selection and (not",
        )
    )
    # Same id as a corpus rule in another file.
    (bad / "duplicate_id.yml").write_text(
        _rule("Planted Duplicate Id", "4db60cc0-36fb-4a8f-a2f2-8c9d2a2e3b71")
    )
    (bad / "bad_tactic.yml").write_text(
        _rule(
            "Planted Unknown Tactic", "11111111-2222-4333-8444-555555555504", tag="attack.evasion"
        )
    )
    (bad / "unknown_key.yml").write_text(
        _rule("Planted Unknown Key", "11111111-2222-4333-8444-555555555505")
        + "detections:\n    typo: true\n"
    )
    # The second document starts on line 22 of the file (a 20-line rule, then ``---``); PyYAML
    # finds the unclosed flow sequence at its end, line 6 of the document: line 27 of the file.
    second = "title: Planted Broken Yaml\nid: 11111111-2222-4333-8444-555555555506\n"
    (bad / "multi.yml").write_text(
        _rule("Planted Fine First", "11111111-2222-4333-8444-555555555507")
        + "---\n"
        + second
        + "status: test\ndetection:\n  selection: [a\n"
    )
    # Converts on no target: an unhandled placeholder.
    (bad / "placeholder.yml").write_text(
        _rule("Planted Placeholder", "11111111-2222-4333-8444-555555555508").replace(
            "Image|endswith: '\\evil.exe'", "Image|expand: '%admin_tools%'"
        )
    )
    (bad / "correlation_missing_rule.yml").write_text(
        "title: Planted Correlation Without Its Rule\n"
        "id: 11111111-2222-4333-8444-555555555509\n"
        "status: test\ndescription: Refers to a rule that is not in the run.\n"
        "author: soc-conformance tests\ndate: 2026-02-01\n"
        "correlation:\n    type: event_count\n    rules:\n        - no_such_rule\n"
        "    group-by:\n        - IpAddress\n    timespan: 5m\n    condition:\n        gte: 3\n"
        "level: medium\n"
    )
    (bad / "filter_missing_rule.yml").write_text(
        "title: Planted Filter Without Its Rule\n"
        "id: 11111111-2222-4333-8444-555555555511\n"
        "status: test\ndescription: Refers to a rule that is not in the run.\n"
        "author: soc-conformance tests\ndate: 2026-02-01\n"
        "logsource:\n    category: process_creation\n    product: windows\n"
        "filter:\n    rules:\n        - 99999999-2222-4333-8444-555555555599\n"
        "    selection:\n        User: 'svc_backup'\n    condition: not selection\n"
    )
    return corpus


def _one(report: dict[str, Any], check: str, needle: str) -> dict[str, Any]:
    hits = [f for f in _findings(report, check) if needle in json.dumps(f)]
    assert len(hits) == 1, (check, needle, _findings(report, check))
    return hits[0]


def test_each_planted_defect_is_flagged_naming_the_rule(planted: Path) -> None:
    code, report, output = _run(str(planted), "--profile", "sigma")
    assert code == 1, output

    missing = _one(report, "detection_condition_is_valid", "Planted Missing Selection")
    assert "'filter_other' is not defined" in missing["message"]
    repro = missing["reproduction"]
    assert repro["source"].endswith("missing_selection.yml")
    assert repro["line"] == 1
    assert "11111111-2222-4333-8444-555555555501" in repro["rule"]
    # One defect, one check: the condition is not reported again per target.
    compile_msgs = json.dumps(_findings(report, "rules_compile_on_required_targets"))
    assert "Planted Missing Selection" not in compile_msgs

    unparsable = _one(report, "detection_condition_is_valid", "Planted Unparsable Condition")
    assert "does not parse" in unparsable["message"]

    duplicate = _one(report, "rule_ids_are_unique", "Planted Duplicate Id")
    assert "aws_cloudtrail_stop_logging.yml:1" in duplicate["message"]

    tactic = _one(report, "attack_tags_are_well_formed", "Planted Unknown Tactic")
    assert "attack.evasion" in tactic["message"]

    key = _one(report, "top_level_keys_are_known", "Planted Unknown Key")
    assert "detections" in key["message"]
    assert key["severity"] == "warning"

    broken = _one(report, "body_is_utf8_yaml", "multi.yml")
    assert broken["message"].count("invalid YAML") == 1
    assert 'multi.yml", line 27' in broken["message"]
    assert broken["reproduction"]["line"] == 22
    assert broken["reproduction"]["document_index"] == 1

    placeholder = _one(report, "rules_compile_on_required_targets", "Planted Placeholder")
    assert placeholder["message"].startswith("'Planted Placeholder' id 11111111")
    assert "rule None" not in json.dumps(report)

    correlation = _one(report, "pysigma_parses_rule", "Planted Correlation")
    assert "no_such_rule" in correlation["message"]
    orphan = _one(report, "pysigma_parses_rule", "Planted Filter Without Its Rule")
    assert "99999999-2222-4333-8444-555555555599" in orphan["message"]

    # The corpus itself is still clean: every finding is about a planted file.
    for check in report["checks"]:
        for finding in check["findings"]:
            assert "planted" in (finding["reproduction"]["source"] or ""), finding


def test_validator_detail_and_validation_config(tmp_path: Path) -> None:
    rule_id = "11111111-2222-4333-8444-555555555510"
    path = tmp_path / "dup_ref.yml"
    text = _rule("Planted Duplicate Reference", rule_id).replace(
        "author:", "references:\n    - https://example.org/a\n    - https://example.org/a\nauthor:"
    )
    path.write_text(text)
    _, report, _ = _run(str(path), "--profile", "sigma")
    found = _one(report, "pysigma_validators_pass", "duplicate_references")
    assert "reference: https://example.org/a" in found["message"]

    config = tmp_path / "validation.yml"
    config.write_text(f"exclusions:\n    {rule_id}: duplicate_references\n")
    _, accepted, _ = _run(str(path), "--profile", "sigma", "--validation-config", str(config))
    assert not [
        f for f in _findings(accepted, "pysigma_validators_pass") if "duplicate" in f["message"]
    ]


def test_bad_validation_config_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "validation.yml"
    config.write_text("exclusions:\n    11111111-2222-4333-8444-555555555510: no_such_validator\n")
    result = CliRunner().invoke(
        rules_command, [str(CORPUS / "linux"), "--validation-config", str(config), *ONE]
    )
    assert result.exit_code == 2
    assert "no_such_validator" in result.output


def test_a_directory_without_rules_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules_command, [str(tmp_path), *ONE])
    assert result.exit_code == 2
    assert "without any *.yml" in result.output


def test_targets_can_be_made_required_or_advisory(tmp_path: Path) -> None:
    corpus = tmp_path / "rules"
    shutil.copytree(CORPUS / "cloud", corpus)
    # Kusto's Sentinel pipeline has no table for AWS rules: a failure once required ...
    args = [str(corpus), "--profile", "sigma", "--no-validators"]
    code, report, _ = _run(*args, "--required-targets", "kusto+sentinel_asim")
    assert code == 1
    assert "kusto+sentinel_asim" in report["matrix"]["required"]
    # ... and a warning once advisory, even for a target the profile requires.
    code, report, _ = _run(
        *args,
        "--advisory-targets",
        "kusto+sentinel_asim,splunk+sysmon",
        "--targets",
        "splunk+sysmon",
    )
    assert code == 0
    assert report["matrix"]["required"] == []
    assert _findings(report, "rules_compile_on_advisory_targets")
    result = CliRunner().invoke(
        rules_command,
        [*args, "--required-targets", "splunk+sysmon", "--advisory-targets", "splunk+sysmon"],
    )
    assert result.exit_code == 2


def test_dates_as_sigma_reads_them(tmp_path: Path) -> None:
    rule = _rule("Dated Rule", "11111111-2222-4333-8444-555555555520")
    (tmp_path / "slashed.yml").write_text(rule.replace("date: 2026-02-01", "date: 2026/2/1"))
    code, report, output = _run(str(tmp_path), "--profile", "sigma", "--no-validators")
    # pySigma reads YYYY/M/D (sigma check accepts the rule): a warning, not a failure.
    assert code == 0, output
    (slashed,) = _findings(report, "date_is_a_sigma_date")
    assert slashed["severity"] == "warning"
    assert "written YYYY/MM/DD" in slashed["message"]
    assert "Dated Rule" in json.dumps(slashed)
    assert "date_is_iso_day" not in {c["name"] for c in report["checks"]}

    (tmp_path / "slashed.yml").write_text(rule.replace("date: 2026-02-01", "date: '2026-02-30'"))
    code, report, output = _run(str(tmp_path), "--profile", "sigma", "--no-validators")
    assert code == 1, output
    (impossible,) = _findings(report, "date_is_a_sigma_date")
    assert impossible["severity"] == "failure"
    assert "is not a day Sigma reads" in impossible["message"]

    # The vendor profile keeps its own, stricter check: YYYY-MM-DD only.
    (tmp_path / "slashed.yml").write_text(rule.replace("date: 2026-02-01", "date: 2026/2/1"))
    _, vendor, _ = _run(str(tmp_path), "--no-validators")
    assert _findings(vendor, "date_is_iso_day")
    assert "date_is_a_sigma_date" not in {c["name"] for c in vendor["checks"]}
