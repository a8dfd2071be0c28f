"""The IOC model: normalisation, validation with exact messages, ids, and the JSON form."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.model import (
    IOC,
    IOC_TYPES,
    RULE_ID_NAMESPACE,
    InvalidIOCError,
    format_instant,
    normalise_value,
    parse_instant,
    rule_id,
)
from tests.mockserver.mock_strategies import iocs

ADDED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def exactly(message: str) -> str:
    """A ``match`` pattern for this whole message (``match`` alone is a search)."""
    return f"^{re.escape(message)}$"


def make(**overrides: Any) -> IOC:
    fields: dict[str, Any] = {
        "type": "domain",
        "value": "c2.example",
        "confidence": "high",
        "added": ADDED,
        "last_seen": ADDED,
        "feed_name": "f",
        "category": "c2",
    }
    return IOC(**{**fields, **overrides})


def test_namespace_is_the_documented_one() -> None:
    documented = uuid.uuid5(uuid.NAMESPACE_URL, "https://socdefenders.ai/api/v1/iocs/sigma")
    assert documented == RULE_ID_NAMESPACE


@given(st.sampled_from(IOC_TYPES), st.text(alphabet=st.characters(codec="utf-8")))
def test_rule_id_is_uuid5_of_type_and_value(ioc_type: str, value: str) -> None:
    expected = str(uuid.uuid5(RULE_ID_NAMESPACE, f"{ioc_type}:{value}"))
    assert rule_id(ioc_type, value) == expected


@pytest.mark.parametrize(
    ("ioc_type", "raw", "canonical"),
    [
        ("ipv4", "203.0.113.7", "203.0.113.7"),
        ("ipv6", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("md5", "A" * 32, "a" * 32),
        ("sha1", "B" * 40, "b" * 40),
        ("sha256", "C" * 64, "c" * 64),
        ("sha512", "D" * 128, "d" * 128),
        ("domain", "C2.Example", "c2.example"),
        ("cve", "cve-2024-3400", "CVE-2024-3400"),
        ("mitre-attack", "t1071.001", "T1071.001"),
        ("url", "http://X.example/A?b", "http://X.example/A?b"),
        ("email", "A.B@Mail.example", "A.B@Mail.example"),
    ],
)
def test_values_are_normalised(ioc_type: str, raw: str, canonical: str) -> None:
    assert normalise_value(ioc_type, raw) == canonical
    ioc = make(type=ioc_type, value=raw)
    assert (ioc.value, ioc.id) == (canonical, rule_id(ioc_type, canonical))


PADDED = "expected a non-empty {} value without padding or control characters, got {}"


@pytest.mark.parametrize(
    ("ioc_type", "raw", "message"),
    [
        ("url", "", PADDED.format("url", "''")),
        (
            "domain",
            " c2.example",
            PADDED.format("domain", "' c2.example'"),
        ),
        (
            "domain",
            "c2.example\n",
            PADDED.format("domain", "'c2.example\\n'"),
        ),
        (
            "email",
            "a\x00@b.example",
            PADDED.format("email", "'a\\x00@b.example'"),
        ),
        ("ipv4", "2001:db8::1", "expected an ipv4 address, got '2001:db8::1'"),
        ("ipv6", "203.0.113.7", "expected an ipv6 address, got '203.0.113.7'"),
        ("ipv4", "203.0.113.256", "expected an ipv4 address, got '203.0.113.256'"),
        ("md5", "a" * 31, f"expected a md5 digest (32 hex digits), got {'a' * 31!r}"),
        ("sha1", "g" * 40, f"expected a sha1 digest (40 hex digits), got {'g' * 40!r}"),
        ("cve", "CVE-24-3400", "expected a CVE id (CVE-YYYY-NNNN), got 'CVE-24-3400'"),
        ("cve", "CVE-2024-340", "expected a CVE id (CVE-YYYY-NNNN), got 'CVE-2024-340'"),
        (
            "mitre-attack",
            "T1071.01",
            "expected an ATT&CK technique id (T1234 or T1234.001), got 'T1071.01'",
        ),
        ("sha384", "a" * 96, f"expected one of {', '.join(IOC_TYPES)}, got 'sha384'"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(ioc_type: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidIOCError, match=exactly(message)):
        normalise_value(ioc_type, raw)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": "sha384"}, f"expected one of {', '.join(IOC_TYPES)}, got 'sha384'"),
        ({"confidence": "extreme"}, "expected one of low, medium, high, got 'extreme'"),
        (
            {"category": "apt"},
            "expected one of botnet, c2, exploit, malware, phishing, scanner, spam, got 'apt'",
        ),
        (
            {"industries": ("energy", "banking")},
            "expected CISA sector slugs (e.g. energy, financial-services), got ['banking']",
        ),
        (
            {"mitre_techniques": ("T1071", "t1071")},
            "expected ATT&CK technique ids (T1234 or T1234.001), got ['t1071']",
        ),
        ({"added": ADDED.replace(tzinfo=None)}, "expected timezone-aware timestamps"),
        ({"last_seen": ADDED.replace(tzinfo=None)}, "expected timezone-aware timestamps"),
        (
            {"id": "00000000-0000-0000-0000-000000000000"},
            f"expected {rule_id('domain', 'c2.example')} (derived from domain 'c2.example'), "
            "got '00000000-0000-0000-0000-000000000000'",
        ),
    ],
)
def test_bad_records_are_refused_with_a_clear_message(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidIOCError, match=exactly(message)):
        make(**overrides)


def test_a_given_id_is_checked_not_replaced() -> None:
    derived = rule_id("domain", "c2.example")
    assert make(id=derived).id == derived
    assert make(value="C2.EXAMPLE", id=derived).id == derived


def test_context_is_frozen_copy() -> None:
    given_context = {"actor": "x"}
    ioc = make(context=given_context)
    given_context["actor"] = "changed"
    assert dict(ioc.context) == {"actor": "x"}
    with pytest.raises(TypeError):
        ioc.context["actor"] = "y"  # type: ignore[index]


def test_instants() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_instant(datetime(2026, 1, 2, 5, 4, 5, 999999, tzinfo=plus_two)) == (
        "2026-01-02T03:04:05Z"
    )
    for text in ("2026-01-02T03:04:05Z", "2026-01-02T05:04:05+02:00", "2026-01-02T03:04:05"):
        parsed = parse_instant(text)
        assert parsed == ADDED
        assert parsed.tzinfo is UTC
    with pytest.raises(
        InvalidIOCError,
        match=exactly("expected an ISO 8601 timestamp (2026-11-01T00:00:00Z), got 'yesterday'"),
    ):
        parse_instant("yesterday")


def test_json_form() -> None:
    ioc = make(
        type="url",
        value="http://x.example/a",
        last_seen=ADDED + timedelta(days=1),
        tags=("t",),
        mitre_techniques=("T1071",),
        industries=("energy",),
        context={"k": "v"},
    )
    assert ioc.to_json() == {
        "id": rule_id("url", "http://x.example/a"),
        "type": "url",
        "value": "http://x.example/a",
        "confidence": "high",
        "first_seen": "2026-01-02T03:04:05Z",
        "last_seen": "2026-01-03T03:04:05Z",
        "source": {"feed_name": "f", "category": "c2"},
        "context": {"k": "v"},
        "tags": ["t"],
        "mitre_techniques": ["T1071"],
        "industries": ["energy"],
    }


@given(iocs())
def test_json_round_trips(ioc: IOC) -> None:
    # Whole seconds only: the JSON form has no fraction.
    ioc = make(
        **{
            name: getattr(ioc, name)
            for name in ("type", "value", "confidence", "category", "industries")
        },
        mitre_techniques=ioc.mitre_techniques,
        added=ioc.added.replace(microsecond=0),
        last_seen=ioc.added.replace(microsecond=0),
    )
    assert IOC.from_json(ioc.to_json()) == ioc


def test_from_json_defaults_and_errors() -> None:
    minimal = {
        "type": "md5",
        "value": "A" * 32,
        "confidence": "low",
        "first_seen": "2026-01-02T03:04:05Z",
        "source": {"feed_name": "f", "category": "malware"},
    }
    ioc = IOC.from_json(minimal)
    assert ioc.last_seen == ioc.added == ADDED
    assert (ioc.tags, ioc.mitre_techniques, ioc.industries, dict(ioc.context)) == ((), (), (), {})
    assert ioc.id == rule_id("md5", "a" * 32)
    missing_type = {k: v for k, v in minimal.items() if k != "type"}
    for broken, field, message in (
        ({**minimal, "source": "x"}, "source", "expected an object with feed_name and category"),
        (missing_type, "type", "missing; expected an IOC type such as ipv4"),
        ({**minimal, "context": {"n": 2}}, "context.n", "expected string values, got number 2"),
        ({**minimal, "tags": ["a", 1]}, "tags[1]", "expected a string, got number 1"),
    ):
        with pytest.raises(InvalidIOCError, match=re.escape(message)) as refused:
            IOC.from_json(broken)
        assert refused.value.field == field


def test_instants_ignore_the_machine_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Naive fixture times are UTC and output is UTC whatever TZ the machine runs in."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert parse_instant("2026-01-02T03:04:05") == ADDED
        assert format_instant(ADDED) == "2026-01-02T03:04:05Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_from_json_reads_every_optional_field() -> None:
    record = {
        "type": "domain",
        "value": "c2.example",
        "confidence": "high",
        "first_seen": "2026-01-02T03:04:05Z",
        "last_seen": "2026-01-05T00:00:00Z",
        "source": {"feed_name": "f", "category": "c2"},
        "tags": ["a", "1"],
        "mitre_techniques": ["T1071"],
        "industries": ["energy"],
        "context": {"actor": "x", "n": "2"},
    }
    ioc = IOC.from_json(record)
    assert ioc.last_seen == datetime(2026, 1, 5, tzinfo=UTC)
    assert ioc.tags == ("a", "1")
    assert ioc.mitre_techniques == ("T1071",)
    assert ioc.industries == ("energy",)
    assert dict(ioc.context) == {"actor": "x", "n": "2"}
