"""Safe loading of rule bodies: one bad document is that document; bombs are bounded."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.rules.documents import (
    LoadLimits,
    LoadProblem,
    load_document,
    parse_body,
    split_documents,
)
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


# --- Exact messages and the edges of every bound ---------------------------------------------


def test_whole_body_errors_say_exactly_what() -> None:
    assert parse_body(b"x" * 10, source="x", limits=LoadLimits(max_body_bytes=10)).error is None
    big = parse_body(b"x" * 11, source="x", limits=LoadLimits(max_body_bytes=10))
    assert (big.error, big.source) == ("body is 11 bytes, above the 10 limit", "x")
    latin = parse_body("title: caf\u00e9\n".encode("latin-1"), source="x")
    assert (latin.error, latin.source) == ("body is not UTF-8: byte 10 is 0xe9", "x")
    three = parse_body(body(*["a: 1\n"] * 3), source="x", limits=LoadLimits(max_documents=3))
    assert (three.error, len(three.documents)) == (None, 3)
    many = parse_body(body(*["a: 1\n"] * 5), source="x", limits=LoadLimits(max_documents=3))
    assert many.error == "5 documents, above the 3 limit: checked the first"
    assert [d.index for d in many.documents] == [0, 1, 2]


def test_bom_and_crlf() -> None:
    rules = parse_body(b"\xef\xbb\xbfa: 1\r\nb: |\r\n  x\r\n  y\r\n", source="s")
    assert rules.warnings == ("body starts with a UTF-8 byte-order mark",)
    assert rules.source == "s"
    [doc] = rules.documents
    assert doc.data == {"a": 1, "b": "x\ny\n"}
    assert doc.text == "a: 1\nb: |\n  x\n  y\n"
    assert parse_body(b"a: 1\n", source="s").warnings == ()


@pytest.mark.parametrize(
    ("text", "problem", "error"),
    [
        ("", None, None),
        ("# only a comment\n", None, None),
        ("title: a\ntitle: b\n", LoadProblem.DUPLICATE_KEY, "duplicate key 'title' (line 2)"),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", LoadProblem.DUPLICATE_KEY, "duplicate key 'b' (line 4)"),
        ("1: a\n'1': b\n", None, None),  # an int and a string: two keys
        ("x: !!int nope\n", LoadProblem.SYNTAX, "cannot construct a value: "),
        ("x: !foo bar\n", LoadProblem.TAG, "unsupported YAML tag: "),
        ("x: [a\n", LoadProblem.SYNTAX, "invalid YAML: "),
        ("x: " + "[" * 1200 + "]" * 1200, LoadProblem.DEPTH, "nesting too deep: "),
    ],
)
def test_load_problems(text: str, problem: LoadProblem | None, error: str | None) -> None:
    data, got_problem, got_error = load_document(text, LoadLimits(max_depth=10_000))
    assert got_problem is problem
    if error is None:
        assert got_error is None
    else:
        assert got_error is not None
        assert got_error.startswith(error)
        assert got_error == error or error.endswith(": ")
        assert data is None


def test_alias_and_depth_limits_are_exact() -> None:
    one_alias = "a: &x [1]\nb: *x\n"
    two_aliases = one_alias + "c: *x\n"
    assert load_document(one_alias, LoadLimits(max_aliases=1))[0] == {"a": [1], "b": [1]}
    assert load_document(two_aliases, LoadLimits(max_aliases=2))[1] is None
    assert load_document(two_aliases, LoadLimits(max_aliases=1))[1:] == (
        LoadProblem.ALIAS,
        "YAML aliases/anchors are not allowed in a rule feed",
    )
    assert load_document(one_alias)[1] is LoadProblem.ALIAS  # none allowed by default
    # The root mapping is level 1, the outer list 2, the inner list 3, its scalar 4.
    assert load_document("a: [[x]]\n", LoadLimits(max_depth=4))[0] == {"a": [["x"]]}
    assert load_document("a: [[x]]\n", LoadLimits(max_depth=3))[1:] == (
        LoadProblem.DEPTH,
        "nesting deeper than 3 levels",
    )
    assert load_document("{[x]: 1}\n", LoadLimits(max_depth=2))[1] is LoadProblem.DEPTH
    # Keys are one level down, like values (a list key is then refused as unhashable).
    assert load_document("{[x]: 1}\n", LoadLimits(max_depth=3))[1] is not LoadProblem.DEPTH
    lenient = parse_body(one_alias.encode(), source="s", limits=LoadLimits(max_aliases=1))
    assert lenient.documents[0].data == {"a": [1], "b": [1]}


def test_impossible_dates_are_kept_as_text() -> None:
    doc = parse_body(b"a: 2026-02-30\nb: 2026-05-17\n", source="x").documents[0]
    assert doc.data == {"a": "2026-02-30", "b": date(2026, 5, 17)}


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("", []),
        ("# preamble\n\n---\na: 1\n", [("a: 1\n", False)]),
        ("a: 1\n", [("a: 1\n", False)]),
        ("a: 1\n--- b: 2\n", [("a: 1\n", False), ("b: 2\n", False)]),
        ("a: 1\n---\t\nb\n", [("a: 1\n", False), ("b\n", False)]),
        ("a: |\n  ----\n  --- x\n", [("a: |\n  ----\n  --- x\n", False)]),
        ("a: 1\n----\n", [("a: 1\n----\n", False)]),
        ("a: 1\n---\n", [("a: 1\n", False), ("", True)]),
        ("a: 1\n---\n# end\n", [("a: 1\n", False), ("# end\n", True)]),
        ("---\n---\na\n", [("", False), ("a\n", False)]),
    ],
)
def test_split_documents(text: str, pieces: list[tuple[str, bool]]) -> None:
    assert split_documents(text) == pieces


def test_document_views() -> None:
    rules = parse_body(body(sample_rule("ipv4"), "- a\n"), source="src")
    mapping, sequence = rules.documents
    assert mapping.mapping is mapping.data
    assert sequence.mapping is None
    assert mapping.identity is mapping.identity  # computed once
    assert mapping.identity is not None
    assert mapping.identity.ioc_type == "ipv4"
    assert (mapping.source, mapping.error, mapping.problem) == ("src", None, None)


def test_parsed_documents_know_the_line_they_start_on() -> None:
    from conformance.rules.documents import parse_body

    body = b"title: a\nid: 1\n---\ntitle: b\n--- title: c\n---\n\n# c\ntitle: d\n"
    assert [d.line for d in parse_body(body, source="x").documents] == [1, 4, 5, 7]
    assert [d.line for d in parse_body(b"# intro\n---\ntitle: a\n", source="x").documents] == [3]


def test_short_strings_are_shared_between_documents() -> None:
    """A run holds every document: keys and common values are loaded once, not per rule."""
    ruleset = parse_body(b"level: high\ntags: [a]\n---\nlevel: high\ntags: [a]\n", source="x")
    first, second = (doc.mapping for doc in ruleset.documents)
    assert first is not None
    assert second is not None
    assert first == second == {"level": "high", "tags": ["a"]}
    assert next(iter(first)) is next(iter(second))  # the key
    assert first["level"] is second["level"]  # a short value
