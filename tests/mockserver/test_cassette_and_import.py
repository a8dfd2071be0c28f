"""The VCR cassette round trip and the rules → IOC import, without any server."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.cassette import Interaction, dump_cassette, load_cassette, strip_key
from mockserver.errors import FixtureError
from mockserver.fixtures import load_dataset
from mockserver.importer import import_rules, sigma_unescape
from mockserver.render import render_rule
from mockserver.store import IOCStore

KEY = "sk_live_" + "a1B2" * 8


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    value=st.text(max_size=40),
)
def test_a_cassette_gives_back_every_body_byte_for_byte(body: bytes, value: str) -> None:
    interaction = Interaction(
        "GET",
        "http://h/api/v1/iocs/sigma?type=url",
        (("Accept", "*/*"),),
        200,
        (("X-V", value),),
        body,
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(dump_cassette([interaction]), encoding="utf-8")
        assert load_cassette(path) == [interaction]


def test_strip_key_removes_every_spelling() -> None:
    text = f"Bearer {KEY} and ?api_key={KEY.replace('_', '%5F')}"
    assert KEY not in strip_key(text, KEY)
    assert "sk_live_…a1B2" in strip_key(text, KEY)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n", "no 'interactions'"),
        ("interactions: []\nversion: 2\n", "version 2"),
        ("interactions: [{request: {}}]\nversion: 1\n", "malformed"),
        (":\n  - [", "not a YAML"),
    ],
)
def test_a_bad_cassette_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "c.yaml").write_text(content)
    with pytest.raises(FixtureError, match=message):
        load_cassette(tmp_path / "c.yaml")


def test_every_committed_rule_imports_back_to_its_ioc() -> None:
    """All 2,000 committed IOCs, hard values included (``?``, ``*``, ``\\``, quotes, IPv6)."""
    dataset = load_dataset()
    store = IOCStore(dataset.iocs)
    with_rules = [i for i in dataset.iocs if i.type not in ("mitre-attack", "sha512")]
    imported = import_rules(store.rules_body(with_rules).decode("utf-8"))
    assert not imported.skipped
    by_id = {r["id"]: r for r in imported.records}
    for ioc in with_rules:
        record = by_id[ioc.id]
        assert (record["type"], record["value"], record["confidence"]) == (
            ioc.type,
            ioc.value,
            ioc.confidence,
        )
        assert record["first_seen"][:10] == ioc.added.strftime("%Y-%m-%d")
        assert record["mitre_techniques"] == list(ioc.mitre_techniques)


def test_another_field_or_layout_is_classified_by_the_value() -> None:
    ioc = load_dataset().iocs[0]
    rule = render_rule(ioc)
    other = """title: x
id: 00000000-0000-4000-8000-000000000000
date: 2026/01/02
level: critical
tags: [attack.t1071.004, attack.T1568]
logsource: {category: dns}
detection:
  sel:
    query|endswith: 'evil.example.org'
  condition: sel
"""
    imported = import_rules(rule + "---\n" + other + "---\nnot: [a rule\n---\n- a list\n")
    assert len(imported.records) == 2
    assert len(imported.skipped) == 2
    record = next(
        r for r in imported.records if r["type"] == "domain" and r["value"] == "evil.example.org"
    )
    assert record["confidence"] == "high"
    assert record["first_seen"] == "2026-01-02T00:00:00Z"
    assert record["mitre_techniques"] == ["T1071.004", "T1568"]
    assert record["context"] == {"sigma_rule_id": "00000000-0000-4000-8000-000000000000"}


def test_sigma_unescape_undoes_the_escapes() -> None:
    assert sigma_unescape(r"http://x/\?a=\*\\b") == "http://x/?a=*\\b"


def test_the_one_way_rule_holds_for_record_replay_and_diff() -> None:
    """The mock never imports the checker, and the diff room never imports the mock."""
    import ast

    root = Path(__file__).resolve().parents[2]

    def imported(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        return {name.split(".")[0] for name in names}

    for path in (root / "mockserver").glob("*.py"):
        assert "conformance" not in imported(path), path
    for path in [
        *(root / "conformance" / "diff").glob("*.py"),
        root / "conformance/commands/diff.py",
    ]:
        assert "mockserver" not in imported(path), path
