"""Rule text: the vendor's sample layout, per-type mappings, and exact round trips of values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from mockserver.fixtures import load_dataset
from mockserver.model import IOC, SIGMA_TYPES
from mockserver.render import SHAPES, has_rule, join_documents, render_rule, yaml_quote
from tests.mockserver.mock_strategies import printable_text, sigma_iocs

# Copied verbatim from the vendor sample (docs/contract.md) (the vendor's Sigma format page).
SAMPLE_RULE = """\
title: SOC Defenders - Malicious IPv4 Indicator
id: f1e2d3c4-b5a6-7890-abcd-ef0987654321
status: experimental
description: Detects network activity involving a malicious IPv4 address identified by SOC Defenders threat intelligence.
references:
  - https://socdefenders.ai
author: SOC Defenders
date: 2026-05-17
tags:
  - attack.command-and-control
logsource:
  category: network_connection
  product: windows
detection:
  selection:
    DestinationIp: '203.0.113.42'
  condition: selection
fields:
  - SourceIp
  - DestinationIp
  - DestinationPort
falsepositives:
  - Unknown
level: high
"""  # noqa: E501


def sample_for(ioc: IOC) -> str:
    """The sample rule with this IOC's id, value, date and technique tags."""
    text = (
        SAMPLE_RULE.replace("f1e2d3c4-b5a6-7890-abcd-ef0987654321", ioc.id)
        .replace("'203.0.113.42'", f"'{ioc.value}'")
        .replace("2026-05-17", ioc.added.strftime("%Y-%m-%d"))
    )
    techniques = "".join(f"  - attack.{t.lower()}\n" for t in ioc.mitre_techniques)
    return text.replace(
        "  - attack.command-and-control\n", "  - attack.command-and-control\n" + techniques
    )


def make_ioc(ioc_type: str, value: str, **fields: object) -> IOC:
    added = fields.pop("added", datetime(2026, 5, 17, 13, 5, tzinfo=UTC))
    assert isinstance(added, datetime)
    return IOC(
        type=ioc_type,
        value=value,
        confidence=str(fields.pop("confidence", "high")),
        added=added,
        last_seen=added,
        feed_name="f",
        category="c2",
        **fields,  # type: ignore[arg-type]
    )


def detection_strings(rule: SigmaRule) -> list[SigmaString]:
    """The values of every detection item as written (before modifiers)."""
    strings = []
    for detection in rule.detection.detections.values():
        for item in detection.detection_items:
            strings.extend(item.original_value)  # type: ignore[union-attr]
    return strings


def test_every_sigma_type_has_a_shape() -> None:
    assert tuple(SHAPES) == SIGMA_TYPES
    assert not has_rule("sha512")
    assert not has_rule("mitre-attack")


def test_ipv4_high_rule_is_the_vendor_sample_byte_for_byte() -> None:
    ioc = make_ioc("ipv4", "203.0.113.42")
    text = render_rule(ioc)
    assert text == sample_for(ioc)
    assert text.replace(ioc.id, "f1e2d3c4-b5a6-7890-abcd-ef0987654321") == SAMPLE_RULE


def test_ipv4_high_rules_in_the_fixtures_match_the_sample() -> None:
    candidates = [
        ioc for ioc in load_dataset().iocs if (ioc.type, ioc.confidence) == ("ipv4", "high")
    ]
    assert any(not ioc.mitre_techniques for ioc in candidates)
    assert any(ioc.mitre_techniques for ioc in candidates)
    for ioc in candidates:
        assert render_rule(ioc) == sample_for(ioc)


def test_technique_tags_follow_the_tactic_in_lower_case() -> None:
    text = render_rule(make_ioc("domain", "c2.example", mitre_techniques=("T1071.004", "T1568")))
    assert "tags:\n  - attack.command-and-control\n  - attack.t1071.004\n  - attack.t1568\n" in text


@pytest.mark.parametrize(
    ("ioc_type", "value", "category", "field"),
    [
        ("ipv6", "2001:db8::1", "network_connection", "DestinationIp"),
        ("domain", "evil.example", "dns_query", "QueryName"),
        ("url", "http://x.example/a?b", "proxy", "c-uri"),
        ("md5", "0" * 32, "process_creation", "Hashes"),
        ("sha1", "1" * 40, "process_creation", "Hashes"),
        ("sha256", "2" * 64, "process_creation", "Hashes"),
        ("cve", "CVE-2024-3400", "webserver", None),
        ("email", "a+b@mail.example", "email", None),
    ],
)
def test_type_mapping(ioc_type: str, value: str, category: str, field: str | None) -> None:
    ioc = make_ioc(ioc_type, value, confidence="low")
    document = yaml.safe_load(render_rule(ioc))
    assert document["logsource"]["category"] == category
    assert document["level"] == "low"
    assert document["id"] == ioc.id
    assert str(document["date"]) == "2026-05-17"
    if field is None:
        assert document["detection"] == {"keywords": [value], "condition": "keywords"}
    else:
        [(key, _)] = document["detection"]["selection"].items()
        assert key.split("|")[0] == field


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "it's",
        'say "hi"',
        "a: b # c",
        "tab\there",
        "line\nbreak",
        "\x85\u2028",
        "\ufeff",
        "ü 例 🚀",
        "\x7f\x9f",
        "\\",
        "'",
        "---",
        "- x",
        "",
        " lead",
        "trail ",
        "*&!%@`",
    ],
)
def test_yaml_quote_reads_back(text: str) -> None:
    assert yaml.safe_load(f"v: {yaml_quote(text)}\n") == {"v": text}


@given(printable_text | st.text(alphabet=st.characters(exclude_categories=("Cs",))))
@settings(max_examples=300)
def test_yaml_quote_round_trips_any_text(text: str) -> None:
    assert yaml.safe_load(f"v: {yaml_quote(text)}\n") == {"v": text}


def _assert_literal_round_trip(iocs: list[IOC]) -> None:
    texts = [render_rule(ioc) for ioc in iocs]
    collection = SigmaCollection.from_yaml(join_documents(texts))
    assert len(collection.rules) == len(iocs)
    for ioc, rule, text in zip(iocs, collection.rules, texts, strict=True):
        assert str(rule.id) == ioc.id
        [value] = detection_strings(rule)
        assert not value.contains_special(), (ioc.value, text)
        assert all(isinstance(part, str) for part in value.s)
        assert "".join(str(part) for part in value.s) == SHAPES[ioc.type].value_prefix + ioc.value


@given(st.lists(sigma_iocs, min_size=1, max_size=5))
@settings(max_examples=60)
def test_any_value_round_trips_through_yaml_and_pysigma(iocs: list[IOC]) -> None:
    _assert_literal_round_trip(iocs)


def test_every_fixture_value_round_trips_through_yaml_and_pysigma() -> None:
    _assert_literal_round_trip([ioc for ioc in load_dataset().iocs if has_rule(ioc.type)])


def test_join_documents() -> None:
    assert join_documents([]) == ""
    assert join_documents(["a: 1\n", "b: 2\n"]) == "a: 1\n---\nb: 2\n"
    assert list(yaml.safe_load_all(join_documents(["a: 1\n", "b: 2\n"]))) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("ioc_type", "prefix"), [("md5", "MD5="), ("sha1", "SHA1="), ("sha256", "SHA256=")]
)
def test_hash_rules_name_the_sysmon_hash_slot(ioc_type: str, prefix: str) -> None:
    ioc = next(i for i in load_dataset().iocs if i.type == ioc_type)
    assert f"    Hashes|contains: '{prefix}{ioc.value}'\n" in render_rule(ioc)
