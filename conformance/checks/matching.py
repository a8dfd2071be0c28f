"""Checks that a rule can match the IOC it is about (beyond its value being the literal IOC).

Sysmon's ``Hashes`` field holds ``SHA1=…,MD5=…,SHA256=…``: a rule ``Hashes|contains:
'SHA256=<40 hex digits>'`` names the SHA-256 slot with a SHA-1 value, so it never matches,
whatever its value's own validity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from conformance.checks.document import document_finding, require_rule
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.rules.documents import RuleDocument
from conformance.rules.indicators import detection_values, split_hash_prefix, unescape_sigma

#: Hex digits per algorithm label Sysmon writes in ``Hashes``.
HASH_LABEL_LENGTHS = {
    "MD5": 32,
    "SHA1": 40,
    "SHA256": 64,
    "IMPHASH": 32,
    "SHA384": 96,
    "SHA512": 128,
}
_LENGTHS = frozenset(HASH_LABEL_LENGTHS.values())
_HEX = frozenset("0123456789abcdefABCDEF")


@check("document")
def hash_label_matches_the_value(doc: RuleDocument) -> Iterator[Finding]:
    """A ``Hashes`` value's ``ALGO=`` label names the algorithm of the hash after it (else the
    rule can never match its IOC)."""
    data = require_rule(doc)
    hashes = [i for i in detection_values(data) if (i.field or "").lower() in ("hashes", "hash")]
    if not hashes:
        raise SkipCheck("no rule has a Hashes value")
    for item in hashes:
        plain, _ = unescape_sigma(item.raw)
        label, value = split_hash_prefix(plain.strip("*"))
        if label is None or not value or not set(value) <= _HEX:
            continue
        expected = HASH_LABEL_LENGTHS.get(label)
        # A value of no algorithm's length is not a hash at all: detection_value_is_literal_ioc
        # names that; here, a valid hash of one algorithm under another's label.
        if expected is not None and len(value) != expected and len(value) in _LENGTHS:
            yield document_finding(
                doc,
                f"{label}= labels a {len(value)}-digit hash: the rule never matches Sysmon's "
                f"{label} slot",
                received=item.raw,
                expected=f"{label}= with {expected} hex digits (or the label of the value's "
                "algorithm)",
            )


#: Modifiers after which the rule looks for something else than the value as written (an
#: encoding of it, a comparison, a placeholder): a rule whose IOC value carries one of them never
#: matches the IOC in a log.
TRANSFORMING_MODIFIERS = frozenset(
    {
        "base64",
        "base64offset",
        "utf16",
        "utf16le",
        "utf16be",
        "wide",
        "gt",
        "gte",
        "lt",
        "lte",
        "exists",
        "fieldref",
        "expand",
    }
)
_NOT = re.compile(r"^\s*not\s+(\w+)\s*$", re.IGNORECASE)


@check("document")
def detection_can_match_its_ioc(doc: RuleDocument) -> Iterator[Finding]:
    """The rule can match a log holding its IOC: no modifier encodes or compares the IOC's
    value, and the condition does not negate the selection holding it."""
    identity = doc.identity
    data = require_rule(doc)
    item = next(iter(detection_values(data)), None)
    if identity is None or identity.raw_value is None or item is None:
        raise SkipCheck("no rule has a detection value")
    transforming = sorted(m for m in item.modifiers if m.lower() in TRANSFORMING_MODIFIERS)
    if transforming:
        yield document_finding(
            doc,
            f"the IOC's value carries the modifier(s) {', '.join(transforming)}: the rule looks "
            "for something other than the IOC",
            received=f"{item.field}|{'|'.join(item.modifiers)}",
            expected="the field with no modifier, or contains/startswith/endswith",
        )
        return
    detection = data.get("detection")
    condition = detection.get("condition") if isinstance(detection, dict) else None
    negated = _NOT.match(condition) if isinstance(condition, str) else None
    if negated and isinstance(detection, dict) and negated.group(1) in detection:
        yield document_finding(
            doc,
            f"the condition is {condition!r}: it matches every log except the IOC's",
            received=f"condition: {condition}",
            expected="a condition that selects the IOC (e.g. condition: selection)",
        )
