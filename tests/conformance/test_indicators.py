"""IOC literal validators, defanging, Sigma unescaping, and rule identity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.rules.documents import parse_body
from conformance.rules.indicators import (
    RuleIdentity,
    detection_values,
    infer_type,
    is_defanged,
    is_url,
    is_valid,
    refang,
    rule_identity,
    shape_type,
    split_hash_prefix,
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
        ("a\\X", "a\\X", False),
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


# --- Edges of each validator (each mutant of a guard meets a value on its edge) ---------------

LONGEST_NAME = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters, every label valid

EDGE_VALUES = [
    # (type, value, valid)
    ("domain", "", False),
    ("domain", "203.0.113.7", False),  # an address is not a name
    ("domain", "evil.example.", False),  # the root's trailing dot: not a feed's spelling
    ("domain", " evil.example", False),
    ("domain", "evil.example ", False),
    ("domain", "\u00fc" * 64 + ".example", False),  # IDNA: label too long
    ("domain", "a..example", False),
    ("domain", "evil.c0m", False),
    ("domain", "XN--ZZ.com", False),  # a punycode label in capitals is still checked
    ("domain", "XN--BCHER-KVA.example", True),
    ("domain", "a_b.example", True),
    ("domain", "a.b2.example", True),  # only the last label must look like a TLD
    ("domain", LONGEST_NAME, True),
    ("domain", LONGEST_NAME + "b", False),
    ("url", "http://x.example:99999/", False),  # .port raises: no such port
    ("url", "http://x.example:8080/a", True),
    ("url", "http://203.0.113.7/a", True),
    ("url", "http://[2001:db8::1]:443/a", True),
    ("url", "http://localhost/a", False),
    ("url", "1http://x.example/", False),
    ("url", "mailto:a@x.example", False),
    ("url", "http://x.example/a b", True),  # observed paths may hold spaces
    ("url", "http://x.example/a b/c", True),
    ("url", "http://x.example/go://a b", True),
    ("url", "http://x.example?q=a b", True),
    ("url", "http://x.example?a b?c", True),
    ("url", "http://x.example#a b", True),
    ("url", "http://x.example#a b#c", True),
    ("url", "http://x.example\t/a", False),
    ("url", "http://x\u00a0y.example/", False),  # any white space in the authority
    ("url", "http://x.example/\x1f", False),
    ("email", "a" * 64 + "@x.example", True),
    ("email", "a" * 65 + "@x.example", False),  # RFC 5321: 64 octets of local part at most
    ("email", "@x.example", False),
    ("email", "a@", False),
    ("email", "not an email@x.example", False),
    ("email", "a..b@x.example", False),
    ("email", "a@localhost", False),
    ("email", "a@b@x.example", False),
    ("email", "first.last+tag@x.example", True),
    ("ipv4", "1.2.3", False),
    ("ipv4", "1.2.3.4.5", False),
    ("ipv6", "203.0.113.7", False),
    ("ipv6", "::ffff:203.0.113.7", True),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", True),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e0", False),
    ("cve", "cve-2024-3400", True),
    ("cve", "CVE-2024-3400x", False),
    ("sha512", "a" * 128, False),  # no validator: never valid
]


@pytest.mark.parametrize(("ioc_type", "value", "valid"), EDGE_VALUES)
def test_validator_edges(ioc_type: str, value: str, valid: bool) -> None:
    assert is_valid(ioc_type, value) is valid


def test_the_longest_name_is_253_characters() -> None:
    assert len(LONGEST_NAME) == 253
    assert max(map(len, LONGEST_NAME.split("."))) == 63


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("203.0.113[.]42", "ipv4"),
        ("2001:db8::42", "ipv6"),
        ("hxxp://evil.example/x", "url"),
        ("hxxps://evil[.]example/x", "url"),
        ("evil(dot)example", "domain"),
        ("evil{.}example", "domain"),
        ("user[@]evil.example", "email"),
        ("user(at)evil.example", "email"),
        ("http[:]//evil.example/", "url"),
        ("http[://]evil.example/", "url"),
        ("http://evil.example[/]x", "url"),
        ("CVE-2024-3400", "cve"),
        ("d" * 40, "sha1"),
        ("deadbeef00", None),
        ("nothing here", None),
        ("", None),
    ],
)
def test_shape_type_sees_through_defanging(value: str, shape: str | None) -> None:
    assert shape_type(value) == shape


def test_refang() -> None:
    assert refang("hxxp[://]a[.]b(dot)c[/]d[at]e[:]f") == "http://a.b.c/d@e:f"
    assert refang("HXXP://x") == "http://x"
    assert refang("a hxxp b") == "a hxxp b"  # only a leading hxxp is a scheme


# --- What a rule is about: field families win over the value's shape -------------------------

FIELD_FAMILIES = {
    "ip": ["DestinationIp", "SourceIp", "dst_ip", "source.ip", "c-ip", "dst"],
    "hash": ["Hashes", "hash", "MD5", "sha256", "file.hash.sha1", "Imphash"],
    "url": ["c-uri", "URL", "url.original", "cs-uri", "RequestUrl"],
    "domain": ["QueryName", "DestinationHostname", "dns.question.name", "cs-host", "hostname"],
    "email": ["sender", "recipient", "From", "to", "sender_email"],
}


@given(
    st.sampled_from(sorted(FIELD_FAMILIES)).flatmap(
        lambda family: st.tuples(st.just(family), st.sampled_from(FIELD_FAMILIES[family]))
    ),
    st.sampled_from(sorted(GOOD_VALUES)),
    st.sampled_from([None, "dns", "proxy", "webserver"]),
)
def test_a_telling_field_decides_the_type_whatever_the_value(
    family_field: tuple[str, str], value_type: str, category: str | None
) -> None:
    """A value of one type under another type's field: the field is what the rule matches."""
    family, field = family_field
    value = GOOD_VALUES[value_type]
    got = infer_type(field, value, category)
    if family == "ip":
        assert got == (
            value_type if value_type in ("ipv4", "ipv6") else "ipv6" if ":" in value else "ipv4"
        )
    elif family == "hash":
        lengths = {32: "md5", 40: "sha1", 64: "sha256"}
        assert got == lengths.get(len(value), "md5")
    else:
        assert got == family


@pytest.mark.parametrize("value_type", sorted(GOOD_VALUES))
@pytest.mark.parametrize("field", [None, "CommandLine", "keywords"])
@pytest.mark.parametrize("category", [None, "dns", "proxy"])
def test_otherwise_the_value_decides(
    value_type: str, field: str | None, category: str | None
) -> None:
    assert infer_type(field, GOOD_VALUES[value_type], category) == value_type


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("dns", "domain"),
        ("dns_query", "domain"),
        ("proxy", "url"),
        ("webserver", None),
        (None, None),
    ],
)
def test_last_the_logsource_decides(category: str | None, expected: str | None) -> None:
    assert infer_type("CommandLine", "no shape at all", category) == expected


def test_split_hash_prefix() -> None:
    assert split_hash_prefix("sha256=abc") == ("SHA256", "abc")
    assert split_hash_prefix("Imphash=") == ("IMPHASH", "")
    assert split_hash_prefix("SHA3=abc") == (None, "SHA3=abc")
    assert split_hash_prefix("x MD5=abc") == (None, "x MD5=abc")


def values(detection: object) -> list[tuple[str | None, tuple[str, ...], str]]:
    return [(v.field, v.modifiers, v.raw) for v in detection_values({"detection": detection})]


def test_detection_values_of_every_shape() -> None:
    assert values({"sel": "evil.example", "condition": "sel"}) == [(None, (), "evil.example")]
    assert values({"sel": {"a|contains|all": ["x", 1, 2.5, True, None, ["n"]]}}) == [
        ("a", ("contains", "all"), "x"),
        ("a", ("contains", "all"), "1"),
        ("a", ("contains", "all"), "2.5"),
    ]
    assert values({"sel": [{"a": "x"}, {"|re": "y"}, "kw", 3, False, None, ["z"]]}) == [
        ("a", (), "x"),
        (None, ("re",), "y"),
        (None, (), "kw"),
        (None, (), "3"),
    ]
    assert values({"sel": {"a": None, "b": False, "c": {"d": "e"}}}) == []
    assert values({"condition": "x", "sel": 7}) == []
    assert values({"condition": "sel", "sel": "kw"}) == [(None, (), "kw")]
    assert values({7: {"f": "v"}}) == [("f", (), "v")]
    assert values(["not", "a", "map"]) == []
    assert list(detection_values({})) == []


def identity_of(text: str) -> Any:
    return rule_identity(parse_body(text.encode(), source="x").documents[0])


def test_rule_identity_reads_hashes_and_metadata() -> None:
    md5 = GOOD_VALUES["md5"]
    identity = identity_of(
        "title: t\nid: 5\nlevel: low\ndate: 2026-05-17\ntags: [a, 1]\n"
        "logsource: {category: process_creation, product: windows}\n"
        f"detection:\n  sel:\n    Hashes|contains: '*MD5={md5}*'\n"
        "    Image: x\n  condition: sel\n"
    )
    assert identity == RuleIdentity(
        id="5",
        title="t",
        level="low",
        date="2026-05-17",
        ioc_type="md5",
        value=md5,
        tags=("a", "1"),
        field="Hashes",
        raw_value=f"*MD5={md5}*",
        has_wildcards=True,
        category="process_creation",
        product="windows",
    )
    plain = identity_of(f"detection:\n  sel:\n    hashes: 'SHA1={GOOD_VALUES['sha1']}'\n")
    assert (plain.ioc_type, plain.value, plain.has_wildcards) == (
        "sha1",
        GOOD_VALUES["sha1"],
        False,
    )
    starred = identity_of("detection:\n  sel:\n    QueryName: '*.evil.example'\n")
    assert (starred.value, starred.has_wildcards) == ("*.evil.example", True)


def test_rule_identity_without_detection_or_with_odd_metadata() -> None:
    identity = identity_of("title: [a]\nid: {x: 1}\ntags: a\nlogsource: dns\nlevel: 3\n")
    assert identity == RuleIdentity(
        id=None, title=None, level="3", date=None, ioc_type=None, value=None, tags=()
    )


def test_a_hash_field_types_by_length_whatever_the_digits() -> None:
    assert infer_type("Hashes", "z" * 40, None) == "sha1"
    assert infer_type("Hashes", "z" * 64, None) == "sha256"
    assert infer_type("Hashes", "z" * 7, None) == "md5"


def test_rule_identity_uses_the_field_and_the_logsource() -> None:
    url = identity_of("detection:\n  sel:\n    c-uri: evil.example\n")
    assert (url.ioc_type, url.field) == ("url", "c-uri")
    keyword = identity_of("logsource: {category: proxy}\ndetection:\n  keywords: [no shape]\n")
    assert keyword.ioc_type == "url"
    timestamp = identity_of("date: 2026-05-17T10:00:00\ndetection: {k: [x]}\n")
    assert timestamp.date == "2026-05-17T10:00:00"
    md5 = GOOD_VALUES["md5"]
    escaped = identity_of(f"detection:\n  sel:\n    Hashes: '\\*MD5={md5}'\n")
    assert (escaped.value, escaped.has_wildcards) == (f"*MD5={md5}", False)
