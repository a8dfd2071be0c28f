"""Safe loading of rule bodies: one bad document is that document; bombs are bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.rules.documents import LoadLimits, LoadProblem, parse_body
from tests.conformance.rule_samples import body, sample_rule


def test_empty_body_has_no_documents() -> None:
    assert parse_body(b"", source="x").documents == ()
    assert parse_body(b"\n# nothing\n", source="x").documents == ()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("leading", [False, True])
def test_rules_split_into_documents(newline: str, leading: bool) -> None:
    rules = parse_body(
        body(sample_rule("ipv4"), sample_rule("md5"), newline=newline, leading_separator=leading),
        source="f.yml",
    )
    assert [d.index for d in rules.documents] == [0, 1]
    assert all(d.error is None and isinstance(d.data, dict) for d in rules.documents)
    assert rules.documents[1].data["level"] == "high"
    assert rules.documents[0].source == "f.yml"


def test_one_bad_document_keeps_the_others() -> None:
    bad = "title: x\ndetection: [unclosed\n"
    rules = parse_body(body(sample_rule("ipv4"), bad, sample_rule("url")), source="x")
    assert [d.problem for d in rules.documents] == [None, LoadProblem.SYNTAX, None]
    assert rules.documents[1].text == bad
    assert rules.documents[2].mapping is not None


def test_not_utf8_is_a_body_error() -> None:
    rules = parse_body("title: caf\u00e9\n".encode("latin-1"), source="x")
    assert rules.error is not None
    assert "UTF-8" in rules.error
    assert rules.documents == ()


def test_bom_is_tolerated_with_a_warning() -> None:
    rules = parse_body(b"\xef\xbb\xbf" + body(sample_rule()), source="x")
    assert rules.warnings
    assert rules.documents[0].mapping is not None


def test_duplicate_key_is_rejected() -> None:
    doc = parse_body(b"title: a\ntitle: b\n", source="x").documents[0]
    assert doc.problem is LoadProblem.DUPLICATE_KEY
    assert "title" in (doc.error or "")


def test_python_tag_is_rejected_not_executed() -> None:
    doc = parse_body(b"x: !!python/object/apply:os.system ['echo pwned']\n", source="x")
    assert doc.documents[0].problem is LoadProblem.TAG
    assert doc.documents[0].data is None


def test_alias_bomb_is_rejected_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    doc = parse_body("\n".join(lines).encode(), source="x").documents[0]
    assert doc.problem is LoadProblem.ALIAS


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_bounded(depth: int) -> None:
    doc = parse_body(b"x: " + b"[" * depth + b"]" * depth, source="x").documents[0]
    assert doc.problem is LoadProblem.DEPTH


def test_size_and_count_limits() -> None:
    big = parse_body(b"x" * 100, source="x", limits=LoadLimits(max_body_bytes=10))
    assert big.error is not None
    assert big.documents == ()
    many = parse_body(body(*["a: 1\n"] * 5), source="x", limits=LoadLimits(max_documents=3))
    assert many.error is not None
    assert len(many.documents) == 3


def test_null_documents_are_marked() -> None:
    rules = parse_body(b"a: 1\n---\n---\nb: 2\n---\n", source="x")
    assert [d.data for d in rules.documents] == [{"a": 1}, None, {"b": 2}, None]
    assert [d.trailing for d in rules.documents] == [False, False, False, True]


@settings(max_examples=30)
@given(st.lists(st.sampled_from(["ipv4", "domain", "url", "sha256", "cve"]), max_size=6))
def test_split_round_trips_any_number_of_rules(types: list[str]) -> None:
    rules = parse_body(body(*(sample_rule(t) for t in types)), source="x")
    assert len(rules.documents) == len(types)
    assert all(d.mapping is not None for d in rules.documents)
