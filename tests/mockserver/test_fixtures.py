"""Loading datasets and keys: normalisation, validation errors, locating the committed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import FixtureError
from mockserver.fixtures import load_dataset, load_key_records, locate, parse_dataset
from mockserver.model import rule_id
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "sha256",
        "value": "AB" * 32,
        "confidence": "high",
        "first_seen": "2026-01-02T03:04:05Z",
        "source": {"feed_name": "f", "category": "malware"},
    }
    return {**base, **overrides}


def test_values_are_normalised_and_ids_derived() -> None:
    dataset = parse_dataset({"meta": {"now": "2026-02-01T00:00:00Z"}, "iocs": [record()]})
    [ioc] = dataset.iocs
    assert ioc.value == "ab" * 32
    assert ioc.id == rule_id("sha256", "ab" * 32)


def test_ipv6_is_compressed() -> None:
    dataset = parse_dataset({"iocs": [record(type="ipv6", value="2001:0db8:0000::0001")]})
    assert dataset.iocs[0].value == "2001:db8::1"
    assert dataset.meta.now == dataset.iocs[0].added  # no meta.now: the newest IOC


@pytest.mark.parametrize(
    "bad",
    [
        record(type="sha384"),
        record(value="not-a-hash"),
        record(confidence="extreme"),
        record(first_seen="yesterday"),
        record(industries=["banking"]),
        record(id="00000000-0000-0000-0000-000000000000"),
        {"type": "url"},
        "not an object",
    ],
)
def test_malformed_records_are_fixture_errors(bad: Any) -> None:
    with pytest.raises(FixtureError, match=r"iocs\[0\]"):
        parse_dataset({"meta": {"now": "2026-02-01T00:00:00Z"}, "iocs": [bad]})


def test_duplicates_are_rejected() -> None:
    with pytest.raises(FixtureError, match="repeats"):
        parse_dataset({"iocs": [record(), record(value="ab" * 32)]})


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read"):
        load_dataset(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(FixtureError, match="not UTF-8 JSON"):
        load_dataset(tmp_path / "bad.json")
    (tmp_path / "keys.json").write_text(json.dumps({"keys": "x"}), encoding="utf-8")
    with pytest.raises(FixtureError, match="'keys' list"):
        load_key_records(tmp_path / "keys.json")


def test_committed_files_are_found() -> None:
    assert locate("iocs.json").is_file()
    secrets = {r["key"]: (r["tier"], r["status"]) for r in load_key_records()}
    assert secrets == {
        PRO_KEY: ("pro", "active"),
        FREE_KEY: ("free", "active"),
        EXPIRED_KEY: ("pro", "expired"),
        REVOKED_KEY: ("pro", "revoked"),
    }
    with pytest.raises(FixtureError, match="not found"):
        locate("nothing.json")
