"""The parts of ``--profile sigma`` one at a time: conditions, file lines, ATT&CK tactics,
target roles, validation configuration, meta-rule groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.checks.document import ATTACK_TACTICS
from conformance.findings import UsageError
from conformance.registry import REGISTRY, CheckSpec
from conformance.rules.conditions import condition_problems
from conformance.rules.documents import parse_body
from conformance.rules.metarules import meta_group, references
from conformance.rules.profiles import PROFILES, logsource_row, profile_named, target_roles
from conformance.rules.validation_config import ValidationConfig, load_validation_config

SELECTIONS = ["selection_img", "selection_cli", "filter_main_x", "_internal"]


@pytest.mark.parametrize(
    "condition",
    [
        "selection_img",
        "all of selection_*",
        "1 of selection_* and not 1 of filter_main_*",
        "all of them",
        "any of selection_*",
        "(selection_img or selection_cli) and not filter_main_x",
    ],
)
def test_valid_conditions_have_no_problem(condition: str) -> None:
    assert condition_problems(condition, SELECTIONS) == []


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("selection_img and selection_typo", "'selection_typo' is not defined"),
        ("1 of sel_*", "'1 of sel_*' matches no selection"),
        ("all of _int*", ""),  # an _-prefixed pattern may match _-prefixed selections
        ("selection_img and (", "does not parse"),
        ("selection_img | count() > 5", "aggregation syntax"),
        ("1 of _*", ""),
    ],
)
def test_condition_problems_are_named(condition: str, words: str) -> None:
    problems = condition_problems(condition, SELECTIONS)
    if words:
        assert len(problems) == 1
        assert words in problems[0]
    else:
        assert problems == []


def test_a_pattern_without_underscore_never_selects_underscore_selections() -> None:
    assert condition_problems("1 of _*", ["_x"]) == []
    assert condition_problems("1 of *", ["_x"]) != []  # pySigma's rule: *_ names are internal


def test_documents_know_their_line_in_the_file() -> None:
    text = b"# feed\n---\ntitle: a\n---\ntitle: b\nid: 1\n--- title: c\n"
    docs = parse_body(text, source="f.yml").documents
    assert [d.line for d in docs] == [3, 5, 7]


def test_yaml_errors_count_lines_in_the_file_and_say_invalid_yaml_once() -> None:
    text = b"title: a\n---\ntitle: b\nlist: [1,\n"
    doc = parse_body(text, source="f.yml").documents[1]
    assert doc.error is not None
    assert doc.error.startswith("invalid YAML: ")
    assert doc.error.count("invalid YAML") == 1
    assert '"f.yml", line 5' in doc.error  # end of the file, not line 3 of the document


def test_duplicate_key_line_is_a_file_line() -> None:
    doc = parse_body(b"title: a\n---\ntitle: b\nx: 1\nx: 2\n", source="f").documents[1]
    assert doc.error == "duplicate key 'x' (line 5)"


def _tags_check() -> CheckSpec:
    return {c.name: c for c in REGISTRY.all("document")}["attack_tags_are_well_formed"]


@pytest.mark.parametrize("tactic", ["stealth", "defense-impairment", "defense-evasion"])
def test_current_and_older_tactics_are_accepted(tactic: str) -> None:
    assert tactic in ATTACK_TACTICS
    doc = parse_body(f"title: t\ntags: [attack.{tactic}]\n".encode(), source="t").documents[0]
    assert _tags_check().run(doc) == []


def test_an_unknown_tactic_is_still_flagged() -> None:
    doc = parse_body(b"title: t\ntags: [attack.evasion]\n", source="t").documents[0]
    assert len(_tags_check().run(doc)) == 1


def test_profiles_keep_vendor_checks_apart() -> None:
    # Each profile leaves out the other's date check, and the vendor's keeps every other one.
    assert PROFILES["socdefenders"].excluded_checks == frozenset({"date_is_a_sigma_date"})
    assert "date_is_iso_day" in PROFILES["sigma"].excluded_checks
    registered = {c.name for c in REGISTRY.all()}
    assert PROFILES["sigma"].excluded_checks <= registered
    assert PROFILES["socdefenders"].excluded_checks <= registered
    assert "escaped_wildcard" in PROFILES["socdefenders"].excluded_validators
    assert "escaped_wildcard" not in PROFILES["sigma"].excluded_validators
    with pytest.raises(UsageError, match="known profiles: sigma, socdefenders"):
        profile_named("nope")


def test_target_roles() -> None:
    vendor = PROFILES["socdefenders"]
    targets, required = target_roles(vendor)
    assert required == ("splunk+sysmon", "lucene+ecs_windows")
    assert len(targets) == 4
    targets, required = target_roles(vendor, advisory=("lucene+ecs_windows",))
    assert required == ("splunk+sysmon",)
    assert "lucene+ecs_windows" in targets
    targets, required = target_roles(
        PROFILES["sigma"], targets=("lucene+ecs_windows",), required=("splunk+splunk_windows",)
    )
    assert targets == ("lucene+ecs_windows", "splunk+splunk_windows")
    assert required == ("splunk+splunk_windows",)
    with pytest.raises(UsageError, match="both required and advisory"):
        target_roles(vendor, required=("a+b",), advisory=("a+b",))


def test_logsource_rows() -> None:
    assert logsource_row({"logsource": {"product": "aws", "service": "cloudtrail"}}) == (
        "aws/-/cloudtrail"
    )
    assert logsource_row({"logsource": {"category": "dns"}}) == "-/dns/-"
    assert logsource_row({}) == "no logsource"


def test_validation_config_reads_sigmahq_format(tmp_path: Path) -> None:
    installed = {"duplicate_references", "sigmahq_title_case", "sigmahq_description_length"}
    path = tmp_path / "v.yml"
    path.write_text(
        "validators: [all, -sigmahq_title_case]\n"
        "exclusions:\n"
        "  5F1C0000-0000-4000-8000-000000000001: sigmahq_title_case\n"
        "  5f1c0000-0000-4000-8000-000000000002: [duplicate_references]\n"
        "config:\n  sigmahq_description_length: {min_length: 8}\n"
    )
    config = load_validation_config(str(path), installed)
    assert config.excluded("5f1c0000-0000-4000-8000-000000000001") == {"sigmahq_title_case"}
    assert config.excluded(None) == frozenset()
    assert config.select(["x"], installed) == ("duplicate_references", "sigmahq_description_length")
    assert ValidationConfig().select(["x"], installed) == ("x",)
    assert config.frozen_params() == (("sigmahq_description_length", (("min_length", 8),)),)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("exclusions:\n  not-an-id: x\n", "not a rule id"),
        ("validators: [nope]\n", "unknown validator 'nope'"),
        ("config:\n  x: 3\n", "not a mapping"),
        ("exclude: {}\n", "unknown key(s) exclude"),
        ("- a\n", "expected a mapping"),
    ],
)
def test_validation_config_mistakes_are_usage_errors(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "v.yml"
    path.write_text(text)
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_validation_config(str(path), {"x"})


def test_meta_groups_carry_the_rules_they_refer_to() -> None:
    text = (
        b"title: base\nid: 6d1f8b34-9c2e-4a7b-8f5d-2e9a3c7b1d46\nname: base_rule\n"
        b"logsource: {product: windows}\ndetection: {sel: {EventID: 1}, condition: sel}\n"
        b"---\ntitle: other\nid: 6d1f8b34-9c2e-4a7b-8f5d-2e9a3c7b1d47\n"
        b"logsource: {product: windows}\ndetection: {sel: {EventID: 2}, condition: sel}\n"
        b"---\ntitle: corr\ncorrelation: {type: event_count, rules: [base_rule],"
        b" timespan: 5m, condition: {gte: 3}}\n"
    )
    docs = parse_body(text, source="c").documents
    assert [d.kind for d in docs] == ["rule", "rule", "correlation"]
    assert references(docs[2].mapping or {}) == ["base_rule"]
    group = meta_group(docs[2], docs)
    assert [g["title"] for g in group] == ["base", "corr"]
