"""IOC literal validators, defanging, Sigma unescaping, and rule identity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.rules.documents import parse_body
from conformance.rules.indicators import (
    is_defanged,
    is_url,
    is_valid,
    rule_identity,
    shape_type,
    unescape_sigma,
)
from tests.conformance.rule_samples import GOOD_VALUES, body, sample_rule, sigma_escape

BAD_VALUES = [
    ("ipv4", "203.0.113.256"),
    ("ipv4", "203.0.113"),
    ("ipv4", "010.0.0.1"),
    ("ipv6", "2001:db8::g"),
    ("ipv6", "fe80::1%eth0"),
    ("domain", "localhost"),
    ("domain", "-bad.example.com"),
    ("domain", "xn--zz.com"),
    ("url", "not a url"),
    ("url", "http:///path"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427"),
    ("sha1", "zz39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("sha256", "e3b0c442"),
    ("cve", "CVE-24-1"),
    ("email", "no-at-sign.example.com"),
]


@pytest.mark.parametrize(("ioc_type", "value"), GOOD_VALUES.items())
def test_good_values_are_valid_and_recognised(ioc_type: str, value: str) -> None:
    assert is_valid(ioc_type, value)
    assert shape_type(value) == ioc_type


@pytest.mark.parametrize(("ioc_type", "value"), BAD_VALUES)
def test_bad_values_are_invalid(ioc_type: str, value: str) -> None:
    assert not is_valid(ioc_type, value)


def test_idna_and_punycode_domains() -> None:
    assert is_valid("domain", "xn--bcher-kva.example")
    assert is_valid("domain", "b\u00fccher.example")


@pytest.mark.parametrize(
    "value",
    ["203.0.113[.]42", "hxxp://evil.com/x", "evil(dot)com", "user[@]evil.com", "evil[.]com"],
)
def test_defanged(value: str) -> None:
    assert is_defanged(value)


@pytest.mark.parametrize("value", GOOD_VALUES.values())
def test_good_values_are_not_defanged(value: str) -> None:
    assert not is_defanged(value)


@pytest.mark.parametrize(
    ("text", "plain", "wild"),
    [
        ("a\\?b", "a?b", False),
        ("a?b", "a?b", True),
        ("*x", "*x", True),
        ("C:\\Windows", "C:\\Windows", False),
        ("a\\\\*", "a\\*", True),
        ("end\\", "end\\", False),
    ],
)
def test_unescape_follows_pysigma(text: str, plain: str, wild: bool) -> None:
    assert unescape_sigma(text) == (plain, wild)


@settings(max_examples=200)
@given(st.text())
def test_escaping_then_unescaping_is_identity(value: str) -> None:
    assert unescape_sigma(sigma_escape(value)) == (value, False)


@settings(max_examples=100)
@given(st.text(alphabet="ab*?\\", max_size=12))
def test_unescape_agrees_with_pysigma(text: str) -> None:
    from sigma.types import SigmaString

    plain, wild = unescape_sigma(text)
    assert wild == SigmaString(text).contains_special()
    if not wild:
        assert "".join(str(part) for part in SigmaString(text).s) == plain


@pytest.mark.parametrize("ioc_type", GOOD_VALUES)
def test_rule_identity_of_each_type(ioc_type: str) -> None:
    doc = parse_body(body(sample_rule(ioc_type, level="medium")), source="x").documents[0]
    identity = rule_identity(doc)
    assert identity is not None
    assert (identity.ioc_type, identity.value) == (ioc_type, GOOD_VALUES[ioc_type])
    assert identity.level == "medium"
    assert identity.date == "2026-05-17"
    assert identity.tags == ("attack.command-and-control",)


def test_rule_identity_of_a_foreign_style_rule() -> None:
    text = (
        "title: x\nid: 1\nlogsource: {product: zeek, service: dns}\n"
        "detection:\n  sel:\n    query|endswith: evil.example.org\n  condition: sel\n"
    )
    identity = rule_identity(parse_body(text.encode(), source="x").documents[0])
    assert identity is not None
    assert identity.ioc_type == "domain"
    assert identity.value == "evil.example.org"


def test_rule_identity_of_non_mapping_is_none() -> None:
    assert rule_identity(parse_body(b"- 1\n", source="x").documents[0]) is None


@pytest.mark.parametrize(
    "value",
    [
        "https://mixed.example.com/a*b?c\\d'e\"f#g: h",
        "http://doc.example/--- ... ---",
        "http://yaml.example/- [a, b] {c: d} & *alias !tag %x @y `z`",
    ],
)
def test_observed_urls_with_unencoded_characters_are_urls(value: str) -> None:
    assert is_url(value)


@pytest.mark.parametrize(
    "value", ["http://bad host.example/", "http://x.example/a\nb", "http://x.example/\x7f"]
)
def test_urls_with_spaces_in_the_host_or_control_characters_are_not(value: str) -> None:
    assert not is_url(value)
