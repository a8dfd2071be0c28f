"""The IOC data model: types, confidences, industries and the indicator record itself.

Values are normalised once, when an IOC is built (:func:`normalise_value`), so every later
layer (the store, the rule renderer, the JSON view) sees the canonical form and the derived
rule id is the same whatever spelling the fixture file used.

Longer than most because every IOC type's normalisation and its error message sit next to
the record they guard: one place to read what a valid IOC is.
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
    """An IOC record is malformed; ``field`` names the offending field (``source.category``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        """Say what is wrong (what was expected, what was there) and, if known, where."""
        super().__init__(message)
        self.field = field


def _shown(value: object) -> str:
    """A value as an error message quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _kind(value: object) -> str:
    """How an error names what it found: the JSON type, and the value when short."""
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "list",
             dict: "object", type(None): "null"}  # fmt: skip
    return f"{names.get(type(value), type(value).__name__)} {_shown(value)}"


def normalise_value(ioc_type: str, value: str) -> str:
    """Return the canonical spelling of ``value`` for ``ioc_type``, or raise InvalidIOCError.

    Hashes become lower case, IP addresses their compressed form, domains lower case,
    CVE and ATT&CK ids upper case; URLs and e-mail addresses are kept as given (their case
    can be significant).
    """
    if not value or value != value.strip() or _CONTROL.search(value):
        raise InvalidIOCError(
            f"expected a non-empty {ioc_type} value without padding or control characters, "
            f"got {_shown(value)}",
            "value",
        )
    if ioc_type in _ADDRESS_CLASSES:
        try:
            # The type's own class first: ``ip_address`` would try IPv4 then IPv6 each time.
            return _ADDRESS_CLASSES[ioc_type](value).compressed
        except ValueError:
            pass
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise InvalidIOCError(
                f"expected an {ioc_type} address, got {_shown(value)}", "value"
            ) from exc
        raise InvalidIOCError(f"expected an {ioc_type} address, got {_shown(value)}", "value")
    if ioc_type in _HASH_LENGTHS:
        lowered = value.lower()
        if len(lowered) != _HASH_LENGTHS[ioc_type] or not _HEX.match(lowered):
            raise InvalidIOCError(
                f"expected a {ioc_type} digest ({_HASH_LENGTHS[ioc_type]} hex digits), "
                f"got {_shown(value)}",
                "value",
            )
        return lowered
    if ioc_type == "domain":
        return value.lower()
    if ioc_type == "cve":
        upper = value.upper()
        if not _CVE.match(upper):
            raise InvalidIOCError(
                f"expected a CVE id (CVE-YYYY-NNNN), got {_shown(value)}", "value"
            )
        return upper
    if ioc_type == "mitre-attack":
        upper = value.upper()
        if not _TECHNIQUE.match(upper):
            raise InvalidIOCError(
                f"expected an ATT&CK technique id (T1234 or T1234.001), got {_shown(value)}",
                "value",
            )
        return upper
    if ioc_type in ("url", "email"):
        return value
    raise InvalidIOCError(f"expected one of {', '.join(IOC_TYPES)}, got {_shown(ioc_type)}", "type")


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
        raise InvalidIOCError(
            f"expected an ISO 8601 timestamp (2026-11-01T00:00:00Z), got {_shown(text)}"
        ) from exc
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
            raise InvalidIOCError(
                f"expected one of {', '.join(IOC_TYPES)}, got {_shown(self.type)}", "type"
            )
        if self.confidence not in _CONFIDENCE_SET:
            raise InvalidIOCError(
                f"expected one of {', '.join(CONFIDENCES)}, got {_shown(self.confidence)}",
                "confidence",
            )
        if self.category not in _CATEGORY_SET:
            raise InvalidIOCError(
                f"expected one of {', '.join(CATEGORIES)}, got {_shown(self.category)}",
                "source.category",
            )
        if not self.feed_name.strip():
            raise InvalidIOCError("expected a non-empty feed name", "source.feed_name")
        if not _INDUSTRY_SET.issuperset(self.industries):
            unknown = [slug for slug in self.industries if slug not in _INDUSTRY_SET]
            raise InvalidIOCError(
                f"expected CISA sector slugs (e.g. energy, financial-services), got {unknown!r}",
                "industries",
            )
        bad = [t for t in self.mitre_techniques if not _TECHNIQUE.match(t)]
        if bad:
            raise InvalidIOCError(
                f"expected ATT&CK technique ids (T1234 or T1234.001), got {bad!r}",
                "mitre_techniques",
            )
        if self.added.tzinfo is None or self.last_seen.tzinfo is None:
            raise InvalidIOCError("expected timezone-aware timestamps", "first_seen")
        if self.last_seen < self.added:
            raise InvalidIOCError(
                f"expected a time at or after first_seen ({format_instant(self.added)}), "
                f"got {format_instant(self.last_seen)}",
                "last_seen",
            )
        value = normalise_value(self.type, self.value)
        derived = rule_id(self.type, value)
        if self.id and self.id != derived:
            raise InvalidIOCError(
                f"expected {derived} (derived from {self.type} {value!r}), got {_shown(self.id)}",
                "id",
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
        """Build an IOC from its JSON form, checking each field's JSON type and value.

        ``id`` is optional and checked when present; ``last_seen`` defaults to ``first_seen``;
        the lists and ``context`` default to empty. An error names the field.
        """
        ioc_type = _field(record, "type", str, "an IOC type such as ipv4")
        value = _field(record, "value", str, "the indicator as a string")
        confidence = _field(record, "confidence", str, f"one of {', '.join(CONFIDENCES)}")
        first_seen = _field(record, "first_seen", str, "an ISO 8601 timestamp")
        last_seen = _field(record, "last_seen", str, "an ISO 8601 timestamp", first_seen)
        source = _field(record, "source", dict, "an object with feed_name and category")
        context = _field(record, "context", dict, "an object of strings", {})
        bad_context = next((k for k, v in context.items() if not isinstance(v, str)), None)
        if bad_context is not None:
            raise InvalidIOCError(
                f"expected string values, got {_kind(context[bad_context])}",
                f"context.{bad_context}",
            )
        return cls(
            type=ioc_type,
            value=value,
            confidence=confidence,
            added=_instant(first_seen, "first_seen"),
            last_seen=_instant(last_seen, "last_seen"),
            feed_name=_field(source, "feed_name", str, "a feed name", where="source."),
            category=_field(source, "category", str, "a category", where="source."),
            tags=_strings(record, "tags"),
            mitre_techniques=_strings(record, "mitre_techniques"),
            industries=_strings(record, "industries"),
            context=context,
            id=_field(record, "id", str, "a UUID", ""),
        )


_MISSING: Final = object()


def _field(
    record: Mapping[str, Any],
    name: str,
    kind: type[Any],
    expected: str,
    default: Any = _MISSING,
    *,
    where: str = "",
) -> Any:
    """``record[name]`` if it has the JSON type ``kind``; ``default`` when absent (or required)."""
    if name not in record:
        if default is _MISSING:
            raise InvalidIOCError(f"missing; expected {expected}", where + name)
        return default
    value = record[name]
    if not isinstance(value, kind):
        raise InvalidIOCError(f"expected {expected}, got {_kind(value)}", where + name)
    return value


def _strings(record: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """An optional list of strings (absent: empty)."""
    values = _field(record, name, list, "a list of strings", [])
    bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
    if bad is not None:
        raise InvalidIOCError(f"expected a string, got {_kind(values[bad])}", f"{name}[{bad}]")
    return tuple(values)


def _instant(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except InvalidIOCError as exc:
        raise InvalidIOCError(str(exc), name) from None
