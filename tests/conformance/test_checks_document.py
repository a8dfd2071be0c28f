"""Each document check passes good rules and fails, alone, on its planted defect."""

from __future__ import annotations

import pytest

from tests.conformance.rule_samples import GOOD_VALUES, body, failed_checks, sample_rule


def _replace(text: str, old: str, new: str) -> bytes:
    assert old in text
    return body(text.replace(old, new, 1))


GOOD = sample_rule("ipv4")
DEFECTS = {
    "body_is_utf8_yaml": [
        b"title: caf\xe9\n",
        b"x: !!python/object/apply:os.system ['id']\n",
        b"a: &a [1, 2]\nb: *a\n",
        body(GOOD, "detection: [unclosed\n"),
    ],
    "documents_are_mappings": [b"- just\n- a list\n", body(GOOD, "", sample_rule("md5"))],
    "no_duplicate_keys": [_replace(GOOD, "level: high\n", "level: high\nlevel: low\n")],
    "no_action_documents": [body("action: global\nauthor: x\n", GOOD)],
    "required_fields_present": [
        _replace(GOOD, "  condition: selection\n", ""),
        _replace(GOOD, "title: SOC Defenders - Malicious IPv4 Indicator\n", ""),
    ],
    "documented_fields_present": [_replace(GOOD, "author: SOC Defenders\n", "")],
    "enumerations_are_valid": [
        _replace(GOOD, "level: high", "level: severe"),
        _replace(GOOD, "status: experimental", "status: beta"),
    ],
    "date_is_iso_day": [
        body(sample_rule(date="2026/05/17")),
        body(sample_rule(date="2026-02-30")),
        body(sample_rule(date="2026-05-17T10:00:00Z")),
    ],
    "id_is_uuid": [body(sample_rule(rule_id_="not-a-uuid")), body(sample_rule(rule_id_="42"))],
    "detection_value_is_literal_ioc": [
        body(sample_rule("ipv4", "203.0.113[.]42")),
        body(sample_rule("url", "http://evil.example/a?b=c", escape=False)),
        body(sample_rule("url", "hxxp://evil.example/a")),
        body(sample_rule("ipv4", "203.0.113.999")),
        body(sample_rule("md5", "d41d8cd98f00b204e9800998ecf8427")),
        body(sample_rule("email", "phish[@]evil.example")),
    ],
    "logsource_matches_type": [
        _replace(GOOD, "category: network_connection", "category: process_creation"),
        body(sample_rule("domain").replace("QueryName", "DestinationHostname")),
    ],
    "attack_tags_are_well_formed": [
        body(sample_rule(tags=["attack.T1059"])),
        body(sample_rule(tags=["attack.not-a-tactic"])),
        body(sample_rule(tags=["no-namespace"])),
    ],
}


@pytest.mark.parametrize("ioc_type", GOOD_VALUES)
def test_good_rules_fail_no_check(ioc_type: str) -> None:
    assert failed_checks(body(sample_rule(ioc_type))) == set()


def test_conformant_variations_fail_no_check() -> None:
    rules = [sample_rule(t) for t in GOOD_VALUES]
    assert failed_checks(body(*rules, newline="\r\n", leading_separator=True)) == set()
    assert failed_checks(b"") == set()
    assert failed_checks(body(sample_rule("md5", hash_prefix=False))) == set()
    assert failed_checks(body(sample_rule(tags=["attack.t1071.001", "attack.g0016"]))) == set()


@pytest.mark.parametrize(
    ("check_name", "raw"), [(name, raw) for name, raws in DEFECTS.items() for raw in raws]
)
def test_planted_defect_fails_exactly_its_check(check_name: str, raw: bytes) -> None:
    assert failed_checks(raw) == {check_name}


def test_uuid_v4_is_opt_in() -> None:
    deterministic = body(sample_rule())  # a uuid5, like the vendor's derived ids
    assert failed_checks(deterministic) == set()
    assert failed_checks(deterministic, uuid_v4=True) == {"id_is_uuid_v4"}
    random_v4 = body(sample_rule(rule_id_="5b0e1a2c-8d4f-4c3e-9a1b-2c3d4e5f6a7b"))
    assert failed_checks(random_v4, uuid_v4=True) == set()


def test_trailing_empty_document_is_only_a_warning() -> None:
    assert failed_checks(body(GOOD) + b"---\n") == set()
