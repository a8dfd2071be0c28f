"""The seeded generator and the committed fixtures: determinism, coverage, safe values."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from datetime import timedelta
from importlib.metadata import version

import pytest

from mockserver.fixtures import dump_dataset, load_dataset, locate, parse_dataset
from mockserver.generate import (
    HARD_URLS,
    IPV4_NETWORKS,
    IPV6_NETWORK,
    REFERENCE_NOW,
    RESERVED_SUFFIXES,
    generate_meta,
    generate_records,
)
from mockserver.model import CONFIDENCES, INDUSTRIES, IOC_TYPES

COMMITTED = load_dataset()


def generated_text(seed: int, count: int) -> str:
    return dump_dataset(generate_meta(seed, count), generate_records(seed, count))


def test_same_seed_and_count_give_identical_bytes() -> None:
    assert generated_text(7, 300).encode() == generated_text(7, 300).encode()


def test_other_seed_gives_other_data() -> None:
    assert generated_text(7, 300) != generated_text(8, 300)


def test_committed_fixture_is_what_the_makefile_command_writes() -> None:
    meta = json.loads(locate("iocs.json").read_text(encoding="utf-8"))["meta"]
    assert (meta["seed"], meta["count"]) == (20261129, 2000)  # the Makefile's `fixtures` target
    if meta.get("faker_version") != version("faker"):
        pytest.skip(f"fixtures made with Faker {meta.get('faker_version')}, not {version('faker')}")
    assert locate("iocs.json").read_text(encoding="utf-8") == generated_text(20261129, 2000)


def test_generated_file_loads_back() -> None:
    dataset = parse_dataset(json.loads(generated_text(3, 200)))
    assert len(dataset.iocs) == 200
    assert dataset.meta.now == REFERENCE_NOW
    assert dataset.meta.seed == 3


def test_every_type_and_confidence_is_covered() -> None:
    pairs = Counter((i.type, i.confidence) for i in COMMITTED.iocs)
    assert {(t, c) for t in IOC_TYPES for c in CONFIDENCES} <= set(pairs)
    assert len(COMMITTED.iocs) == 2000
    assert 5 <= Counter(i.type for i in COMMITTED.iocs)["sha512"] <= 60


def test_industries_none_one_and_several() -> None:
    seen = {slug for ioc in COMMITTED.iocs for slug in ioc.industries}
    assert seen == set(INDUSTRIES)
    counts = Counter(len(ioc.industries) for ioc in COMMITTED.iocs)
    assert counts[0] > 0
    assert counts[1] > 0
    assert sum(n for k, n in counts.items() if k >= 3) > 0


def test_added_times_spread_over_the_year_before_now() -> None:
    now = COMMITTED.meta.now
    added = [ioc.added for ioc in COMMITTED.iocs]
    assert all(now - timedelta(days=365) < a <= now for a in added)
    months = Counter((a.year, a.month) for a in added)
    assert len(months) >= 12
    assert any(now - a < timedelta(days=1) for a in added)  # the Free tier sees something
    assert any(ioc.mitre_techniques for ioc in COMMITTED.iocs)


def test_hard_values_are_present() -> None:
    urls = [i.value for i in COMMITTED.iocs if i.type == "url"]
    assert set(HARD_URLS) <= set(urls)
    for char in ("?", "*", "\\", "'", '"', "#", ": "):
        assert any(char in url for url in urls), char
    assert any(not url.isascii() for url in urls)
    assert any("xn--" in url for url in urls)
    assert max(len(url) for url in urls) >= 1900
    assert any("::" in i.value for i in COMMITTED.iocs if i.type == "ipv6")
    assert any("+" in i.value for i in COMMITTED.iocs if i.type == "email")


def test_raw_fixture_has_upper_case_hashes_that_load_lower_case() -> None:
    raw = json.loads(locate("iocs.json").read_text(encoding="utf-8"))["iocs"]
    upper = [
        r for r in raw if r["type"] in ("md5", "sha1", "sha256", "sha512") and r["value"].isupper()
    ]
    assert upper
    loaded = {i.id: i for i in COMMITTED.iocs}
    for record in upper:
        assert loaded[record["id"]].value == record["value"].lower()


def _host(value: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(value).hostname or ""


def test_only_documentation_addresses_and_reserved_names() -> None:
    for ioc in COMMITTED.iocs:
        if ioc.type in ("ipv4", "ipv6"):
            address = ipaddress.ip_address(ioc.value)
            networks = IPV4_NETWORKS if address.version == 4 else (IPV6_NETWORK,)
            assert any(address in n for n in networks), ioc.value
        host = {"domain": ioc.value, "email": ioc.value.rpartition("@")[2]}.get(ioc.type)
        if ioc.type == "url":
            host = _host(ioc.value)
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                pass
            else:
                assert any(address in n for n in (*IPV4_NETWORKS, IPV6_NETWORK)), ioc.value
                continue
        if host is not None:
            assert any(host == s or host.endswith("." + s) for s in RESERVED_SUFFIXES), ioc.value
