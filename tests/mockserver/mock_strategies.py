"""Hypothesis strategies for the mock's core values: IOCs, datasets and query arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from mockserver.model import (
    CATEGORIES,
    CONFIDENCES,
    INDUSTRIES,
    IOC,
    IOC_TYPES,
    SIGMA_TYPES,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)

#: Any text a YAML document can carry: no surrogates (not encodable), no C0 controls in IOCs.
printable_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, exclude_categories=("Cs",)), min_size=1
)


def hex_digest(length: int) -> st.SearchStrategy[str]:
    """Hex strings of ``length`` digits, in either case."""
    return st.text(alphabet="0123456789abcdefABCDEF", min_size=length, max_size=length)


def ioc_values(ioc_type: str) -> st.SearchStrategy[str]:
    """Valid raw values of ``ioc_type``, including the awkward ones."""
    if ioc_type == "ipv4":
        return st.ip_addresses(v=4).map(str)
    if ioc_type == "ipv6":
        return st.ip_addresses(v=6).map(str)
    lengths = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
    if ioc_type in lengths:
        return hex_digest(lengths[ioc_type])
    if ioc_type == "cve":
        return st.builds("CVE-{}-{}".format, st.integers(1999, 2030), st.integers(1000, 9_999_999))
    if ioc_type == "mitre-attack":
        return st.builds(
            lambda t, s: f"T{t}" + (f".{s:03d}" if s else ""),
            st.integers(1000, 1999),
            st.integers(0, 999),
        )
    if ioc_type == "url":
        # Framed so that no value has leading or trailing whitespace.
        return printable_text.map(lambda s: f"http://x.example/{s}/end")
    if ioc_type == "email":
        return printable_text.map(lambda s: f"a{s}z@mail.example")
    return printable_text.map(lambda s: f"d{s}z.example")  # domain


@st.composite
def iocs(draw: st.DrawFn, *, types: tuple[str, ...] = IOC_TYPES) -> IOC:
    """Valid IOCs of the given types, added within the 400 days before NOW (or a bit after)."""
    ioc_type = draw(st.sampled_from(types))
    added = NOW - timedelta(seconds=draw(st.integers(-3 * 86400, 400 * 86400)))
    return IOC(
        type=ioc_type,
        value=draw(ioc_values(ioc_type)),
        confidence=draw(st.sampled_from(CONFIDENCES)),
        added=added,
        last_seen=added,
        feed_name="test feed",
        category=draw(st.sampled_from(CATEGORIES)),
        mitre_techniques=tuple(
            draw(st.lists(st.sampled_from(("T1071", "T1071.001", "T1566.002")), unique=True))
        ),
        industries=tuple(draw(st.lists(st.sampled_from(INDUSTRIES), unique=True, max_size=4))),
    )


def datasets(*, max_size: int = 40) -> st.SearchStrategy[list[IOC]]:
    """Lists of IOCs with distinct ids."""
    return st.lists(iocs(), max_size=max_size, unique_by=lambda ioc: ioc.id)


sigma_iocs = iocs(types=SIGMA_TYPES)


def query_args(*, json_endpoint: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Raw query arguments (name → list of values), valid or not, to throw at the parser."""
    names = ["type", "confidence", "industry", "since", "limit", "api_key", "other"]
    if json_endpoint:
        names += ["offset", "category"]
    valueish = st.one_of(
        st.sampled_from(
            [*IOC_TYPES, "mitre_attack", *CONFIDENCES, *INDUSTRIES, "finance", *CATEGORIES]
        ),
        st.sampled_from(
            [
                "0",
                "1",
                "-1",
                "100",
                "10001",
                "9" * 30,
                "1e3",
                " 5",
                "٣",
                "2024-01-01",
                "2024-01-01T00:00:00Z",
                "2024-13-01",
                "9999-12-31T23:59:59-14:00",
                "2024-01-01T00:00:00+25:00",
                "",
            ]
        ),
        st.text(max_size=30),
    )
    return st.dictionaries(st.sampled_from(names), st.lists(valueish, min_size=1, max_size=2))
