"""The IOC data model: types, confidences, industries and the indicator record itself.

Values are normalised once, when an IOC is built (:func:`normalise_value`), so every later
layer (the store, the rule renderer, the JSON view) sees the canonical form and the derived
rule id is the same whatever spelling the fixture file used.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

#: Types the vendor's Sigma format page documents: each yields one rule per IOC.
SIGMA_TYPES: Final = ("ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "cve", "email")
#: Types other vendor pages add: listed by ``/api/v1/iocs``, no Sigma rule.
EXTRA_TYPES: Final = ("mitre-attack", "sha512")
IOC_TYPES: Final = SIGMA_TYPES + EXTRA_TYPES
#: Query spellings that name a canonical type (the OpenAPI file's ``mitre_attack``).
TYPE_ALIASES: Final = MappingProxyType({"mitre_attack": "mitre-attack"})

CONFIDENCES: Final = ("low", "medium", "high")

#: The 16 CISA critical-infrastructure sectors, as kebab-case slugs.
INDUSTRIES: Final = (
    "chemical",
    "commercial-facilities",
    "communications",
    "critical-manufacturing",
    "dams",
    "defense-industrial-base",
    "emergency-services",
    "energy",
    "financial-services",
    "food-and-agriculture",
    "government-facilities",
    "healthcare",
    "information-technology",
    "nuclear",
    "transportation",
    "water",
)
#: ``finance`` appears in one vendor example as the financial sector's slug.
INDUSTRY_ALIASES: Final = MappingProxyType({"finance": "financial-services"})

#: ``source.category`` values (the JSON endpoint's ``category`` filter).
CATEGORIES: Final = ("botnet", "c2", "exploit", "malware", "phishing", "scanner", "spam")

#: Fixed namespace of rule ids: ``uuid5(NAMESPACE_URL, "https://socdefenders.ai/api/v1/iocs/sigma")``.
RULE_ID_NAMESPACE: Final = uuid.UUID("cb4e17a3-6912-58b7-afae-cbb94ec0af57")

_ADDRESS_CLASSES: Final = MappingProxyType(
    {"ipv4": ipaddress.IPv4Address, "ipv6": ipaddress.IPv6Address}
)
_HASH_LENGTHS: Final = MappingProxyType({"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128})
_HEX = re.compile(r"\A[0-9a-f]+\Z")
_CVE = re.compile(r"\ACVE-\d{4}-\d{4,}\Z")
_TECHNIQUE = re.compile(r"\AT\d{4}(?:\.\d{3})?\Z")
#: A C0 control character: one regex search instead of a per-character loop in Python.
_CONTROL = re.compile(r"[\x00-\x1f]")
_NAMESPACE_BYTES: Final = RULE_ID_NAMESPACE.bytes
# Sets for the per-IOC membership tests (a fixture file has 100,000 IOCs to validate).
_IOC_TYPE_SET: Final = frozenset(IOC_TYPES)
_CONFIDENCE_SET: Final = frozenset(CONFIDENCES)
_CATEGORY_SET: Final = frozenset(CATEGORIES)
_INDUSTRY_SET: Final = frozenset(INDUSTRIES)


class InvalidIOCError(ValueError):
    """An IOC record is malformed (bad type, value, confidence or timestamp)."""


def normalise_value(ioc_type: str, value: str) -> str:
    """Return the canonical spelling of ``value`` for ``ioc_type``, or raise InvalidIOCError.

    Hashes become lower case, IP addresses their compressed form, domains lower case,
    CVE and ATT&CK ids upper case; URLs and e-mail addresses are kept as given (their case
    can be significant).
    """
    if not value or value != value.strip() or _CONTROL.search(value):
        raise InvalidIOCError(f"{ioc_type} value must be non-empty, unpadded and printable")
    if ioc_type in _ADDRESS_CLASSES:
        try:
            # The type's own class first: ``ip_address`` would try IPv4 then IPv6 each time.
            return _ADDRESS_CLASSES[ioc_type](value).compressed
        except ValueError:
            pass
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise InvalidIOCError(f"not an IP address: {value!r}") from exc
        raise InvalidIOCError(f"not an {ioc_type} address: {value!r}")
    if ioc_type in _HASH_LENGTHS:
        lowered = value.lower()
        if len(lowered) != _HASH_LENGTHS[ioc_type] or not _HEX.match(lowered):
            raise InvalidIOCError(f"not a {ioc_type} hex digest: {value!r}")
        return lowered
    if ioc_type == "domain":
        return value.lower()
    if ioc_type == "cve":
        upper = value.upper()
        if not _CVE.match(upper):
            raise InvalidIOCError(f"not a CVE id: {value!r}")
        return upper
    if ioc_type == "mitre-attack":
        upper = value.upper()
        if not _TECHNIQUE.match(upper):
            raise InvalidIOCError(f"not an ATT&CK technique id: {value!r}")
        return upper
    if ioc_type in ("url", "email"):
        return value
    raise InvalidIOCError(f"unknown IOC type {ioc_type!r}")


def rule_id(ioc_type: str, value: str) -> str:
    """Return the deterministic id of an IOC (and of its rule): UUIDv5 of ``type:value``.

    The same text as ``str(uuid.uuid5(RULE_ID_NAMESPACE, f"{ioc_type}:{value}"))``, built from
    the SHA-1 digest directly: a third of the time, which counts for a 100,000-IOC fixture.
    """
    digest = bytearray(
        hashlib.sha1(
            _NAMESPACE_BYTES + f"{ioc_type}:{value}".encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def format_instant(instant: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse a fixture timestamp (ISO 8601 with ``Z`` or an offset) into an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise InvalidIOCError(f"not an ISO 8601 timestamp: {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class IOC:
    """One indicator of compromise, as the feed holds it.

    ``added`` is when the IOC entered the feed: ``since`` compares with it, the JSON view shows
    it as ``first_seen`` and a rule's ``date`` is its day.
    """

    type: str
    value: str
    confidence: str
    added: datetime
    last_seen: datetime
    feed_name: str
    category: str
    tags: tuple[str, ...] = ()
    mitre_techniques: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    context: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    id: str = ""

    def __post_init__(self) -> None:
        """Validate the enumerations and derive the id from the normalised value."""
        if self.type not in _IOC_TYPE_SET:
            raise InvalidIOCError(f"unknown IOC type {self.type!r}")
        if self.confidence not in _CONFIDENCE_SET:
            raise InvalidIOCError(f"unknown confidence {self.confidence!r}")
        if self.category not in _CATEGORY_SET:
            raise InvalidIOCError(f"unknown category {self.category!r}")
        if not _INDUSTRY_SET.issuperset(self.industries):
            unknown = [slug for slug in self.industries if slug not in _INDUSTRY_SET]
            raise InvalidIOCError(f"unknown industries {unknown!r}")
        bad = [t for t in self.mitre_techniques if not _TECHNIQUE.match(t)]
        if bad:
            raise InvalidIOCError(f"malformed ATT&CK technique ids {bad!r}")
        if self.added.tzinfo is None or self.last_seen.tzinfo is None:
            raise InvalidIOCError("timestamps must be timezone-aware")
        value = normalise_value(self.type, self.value)
        derived = rule_id(self.type, value)
        if self.id and self.id != derived:
            raise InvalidIOCError(
                f"id {self.id} of {self.type} {value!r} is not its derived id {derived}"
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "id", derived)
        object.__setattr__(self, "context", MappingProxyType(dict(self.context)))

    def to_json(self) -> dict[str, Any]:
        """Return the IOC as the ``/api/v1/iocs`` endpoint (and the fixture file) shows it."""
        return {
            "id": self.id,
            "type": self.type,
            "value": self.value,
            "confidence": self.confidence,
            "first_seen": format_instant(self.added),
            "last_seen": format_instant(self.last_seen),
            "source": {"feed_name": self.feed_name, "category": self.category},
            "context": dict(self.context),
            "tags": list(self.tags),
            "mitre_techniques": list(self.mitre_techniques),
            "industries": list(self.industries),
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> IOC:
        """Build an IOC from its JSON form; ``id`` is optional and checked when present."""
        try:
            source = record["source"]
            return cls(
                type=str(record["type"]),
                value=str(record["value"]),
                confidence=str(record["confidence"]),
                added=parse_instant(str(record["first_seen"])),
                last_seen=parse_instant(str(record.get("last_seen", record["first_seen"]))),
                feed_name=str(source["feed_name"]),
                category=str(source["category"]),
                tags=tuple(map(str, record.get("tags", ()))),
                mitre_techniques=tuple(map(str, record.get("mitre_techniques", ()))),
                industries=tuple(map(str, record.get("industries", ()))),
                context={str(k): str(v) for k, v in record.get("context", {}).items()},
                id=str(record.get("id", "")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidIOCError(f"malformed IOC record: {exc!r}") from exc
