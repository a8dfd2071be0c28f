"""Builders of Sigma rule texts in the vendor's documented style (docs/contract.md §1), for tests.

Written from the contract, never from the mock: a checker test that used the mock's renderer
would share its bugs. Every builder returns YAML text; ``body`` joins documents the way the
endpoint does (``---`` lines).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

#: One valid IOC value per documented type.
GOOD_VALUES = {
    "ipv4": "203.0.113.42",
    "ipv6": "2001:db8::42",
    "domain": "malicious-example.com",
    "url": "http://malicious-example.com/path/dl.php?id=7&x=*",
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "cve": "CVE-2024-3400",
    "email": "phish@malicious-example.com",
}

#: Logsource lines, detection field and modifier per type (documented mappings; cve/email free).
_MAPPINGS = {
    "ipv4": ("network_connection", "windows", "DestinationIp"),
    "ipv6": ("network_connection", "windows", "DestinationIp"),
    "domain": ("dns_query", "windows", "QueryName"),
    "url": ("proxy", None, "c-uri"),
    "md5": ("process_creation", "windows", "Hashes|contains"),
    "sha1": ("process_creation", "windows", "Hashes|contains"),
    "sha256": ("process_creation", "windows", "Hashes|contains"),
    "cve": ("webserver", None, None),
    "email": ("proxy", None, None),
}

_TITLES = {
    "ipv4": "Malicious IPv4 Indicator",
    "ipv6": "Malicious IPv6 Indicator",
    "domain": "Malicious Domain Indicator",
    "url": "Malicious URL Indicator",
    "md5": "Malicious MD5 Hash Indicator",
    "sha1": "Malicious SHA1 Hash Indicator",
    "sha256": "Malicious SHA256 Hash Indicator",
    "cve": "Exploitation Attempt of a Known Vulnerability",
    "email": "Malicious Email Address Indicator",
}


def sigma_escape(value: str) -> str:
    """Escape Sigma's special characters so the value matches literally."""
    return "".join("\\" + c if c in "*?\\" else c for c in value)


def yaml_quote(value: str) -> str:
    """A single-quoted YAML scalar (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def rule_id(ioc_type: str, value: str) -> str:
    """A deterministic id from type and value, like the vendor derives its ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ioc_type}:{value}"))


def sample_rule(
    ioc_type: str = "ipv4",
    value: str | None = None,
    *,
    rule_id_: str | None = None,
    level: str = "high",
    date: str = "2026-05-17",
    tags: Iterable[str] = ("attack.command-and-control",),
    escape: bool = True,
    hash_prefix: bool = True,
    title: str | None = None,
) -> str:
    """One rule in the vendor's style for an IOC of ``ioc_type`` (a valid rule by default)."""
    value = GOOD_VALUES[ioc_type] if value is None else value
    category, product, field = _MAPPINGS[ioc_type]
    shown = value
    if ioc_type in ("md5", "sha1", "sha256") and hash_prefix:
        shown = f"{ioc_type.upper()}={value}"
    literal = yaml_quote(sigma_escape(shown) if escape else shown)
    logsource = f"  category: {category}\n" + (f"  product: {product}\n" if product else "")
    if field is None:
        detection = f"  keywords:\n    - {literal}\n  condition: keywords\n"
    else:
        detection = f"  selection:\n    {field}: {literal}\n  condition: selection\n"
    tag_lines = "".join(f"  - {t}\n" for t in tags)
    return (
        f"title: SOC Defenders - {title or _TITLES[ioc_type]}\n"
        f"id: {rule_id_ or rule_id(ioc_type, value)}\n"
        "status: experimental\n"
        f"description: Detects activity involving a malicious {ioc_type} indicator identified"
        " by SOC Defenders threat intelligence.\n"
        "references:\n  - https://socdefenders.ai\n"
        "author: SOC Defenders\n"
        f"date: {date}\n"
        + (f"tags:\n{tag_lines}" if tag_lines else "")
        + f"logsource:\n{logsource}"
        + f"detection:\n{detection}"
        + "fields:\n  - SourceIp\n  - DestinationIp\n"
        + "falsepositives:\n  - Unknown\n"
        + f"level: {level}\n"
    )


def body(*documents: str, newline: str = "\n", leading_separator: bool = False) -> bytes:
    """Documents joined with ``---`` lines, as the endpoint serves them, UTF-8 encoded."""
    text = "---\n".join(documents)
    if leading_separator:
        text = "---\n" + text
    return text.replace("\n", newline).encode("utf-8")


def one_rule_per_type() -> list[str]:
    """A good rule for every documented type."""
    return [sample_rule(t) for t in GOOD_VALUES]


def many_rules(count: int) -> list[str]:
    """``count`` good rules with distinct values, cycling over the types (for benchmarks)."""
    out = []
    types = list(GOOD_VALUES)
    for i in range(count):
        ioc_type = types[i % len(types)]
        out.append(sample_rule(ioc_type, distinct_value(ioc_type, i)))
    return out


def distinct_value(ioc_type: str, i: int) -> str:
    """The ``i``-th distinct valid value of a type."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, f"{ioc_type}{i}").hex
    if ioc_type == "ipv4":
        return f"198.{(i >> 16) % 256}.{(i >> 8) % 256}.{i % 256}"
    if ioc_type == "ipv6":
        return f"2001:db8::{i:x}"
    if ioc_type == "domain":
        return f"bad-{digest[:10]}.example"
    if ioc_type == "url":
        return f"https://bad-{digest[:8]}.example/get.php?id={i}"
    if ioc_type == "md5":
        return digest
    if ioc_type == "sha1":
        return (digest + digest)[:40]
    if ioc_type == "sha256":
        return digest * 2
    if ioc_type == "cve":
        return f"CVE-2024-{10000 + i}"
    return f"user{i}@bad-{digest[:6]}.example"


def failed_checks(raw: bytes, *, compile_checks: bool = False, **options: object) -> set[str]:
    """The names of the checks that fail on a body (compile checks only when asked: slower)."""
    from conformance.results import Status
    from conformance.rules.documents import parse_body
    from conformance.rules.run import RuleCheckOptions, check_rulesets

    exclude = () if compile_checks else _COMPILE_CHECKS
    opts = RuleCheckOptions(exclude=exclude, workers=1, **options)  # type: ignore[arg-type]
    results, _ = check_rulesets([parse_body(raw, source="test.yml")], opts)
    return {r.name for r in results if r.status(strict=opts.strict) is Status.FAILED}


_COMPILE_CHECKS = (
    "pysigma_parses_rule",
    "rules_compile_on_required_targets",
    "rules_compile_on_advisory_targets",
    "pysigma_validators_pass",
)
