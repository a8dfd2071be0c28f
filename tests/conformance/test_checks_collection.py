"""Collection checks: relations between the rules of one body."""

from __future__ import annotations

from conformance.rules.documents import parse_body
from conformance.rules.run import RuleCheckOptions, check_rulesets
from tests.conformance.rule_samples import body, failed_checks, sample_rule


def test_distinct_rules_pass() -> None:
    assert failed_checks(body(sample_rule("ipv4"), sample_rule("ipv6"))) == set()


def test_duplicated_id_fails_rule_ids_are_unique() -> None:
    same_id = "f1e2d3c4-b5a6-4890-abcd-ef0987654321"
    raw = body(sample_rule("ipv4", rule_id_=same_id), sample_rule("domain", rule_id_=same_id))
    assert failed_checks(raw) == {"rule_ids_are_unique"}


def test_same_ioc_twice_fails_one_rule_per_ioc() -> None:
    raw = body(
        sample_rule("ipv4"), sample_rule("ipv4", rule_id_="0b0e1a2c-8d4f-4c3e-9a1b-2c3d4e5f6a7b")
    )
    assert failed_checks(raw) == {"one_rule_per_ioc"}


def test_duplicate_titles_are_a_warning_naming_the_documents() -> None:
    raw = body(sample_rule("ipv4", "198.51.100.1"), sample_rule("ipv4", "198.51.100.2"))
    results, _ = check_rulesets(
        [parse_body(raw, source="x")],
        RuleCheckOptions(include=("titles_are_distinct",), workers=1),
    )
    (result,) = results
    assert result.status(strict=True).value == "warning"
    assert "documents 1, 2" in (result.findings[0].received or "")  # counted from 1


def test_duplicate_reported_at_the_second_document() -> None:
    same_id = "f1e2d3c4-b5a6-4890-abcd-ef0987654321"
    raw = body(
        sample_rule("md5"),
        sample_rule("ipv4", rule_id_=same_id),
        sample_rule("url", rule_id_=same_id),
    )
    results, _ = check_rulesets(
        [parse_body(raw, source="x")],
        RuleCheckOptions(include=("rule_ids_are_unique",), workers=1),
    )
    finding = results[0].findings[0]
    assert finding.reproduction.document_index == 2
    assert "already used by x:" in finding.message
    assert "(document 2)" in finding.message  # the first user, counted from 1
    assert finding.reproduction.line is not None
    assert finding.reproduction.line > 1
