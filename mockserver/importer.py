"""Sigma rules → IOC records the mock serves (``soc-mock import``, and ``record`` without JSON).

A rule says what its IOC is: the type from its logsource and detection field (or, where a
server uses another field, from the shape of the value), the value from the detection (Sigma
escapes undone, a hash's ``MD5=`` prefix dropped), the confidence from ``level``, the day it
was added from ``date`` (midnight UTC: a rule carries no time) and the ATT&CK techniques from
its ``attack.tNNNN`` tags. Industries and the source are not in a rule: a recording adds the
industries it learned from per-industry queries; the source is ``imported``.

Pure: text in, records out; nothing here touches the network or the disk.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import yaml

from mockserver.model import IOC, InvalidIOCError, format_instant

#: Field (without modifiers) → type, for the fields that name a type outright.
_FIELD_TYPES: Final = {"queryname": "domain", "query": "domain", "c-uri": "url", "url": "url"}
_HASH_BY_LENGTH: Final = {32: "md5", 40: "sha1", 64: "sha256"}
_HASH_PREFIX = re.compile(r"\A(MD5|SHA1|SHA256|SHA-1|SHA-256)=", re.IGNORECASE)
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
_CVE = re.compile(r"\ACVE-\d{4}-\d{4,}\Z", re.IGNORECASE)
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_TECHNIQUE_TAG = re.compile(r"\Aattack\.(t\d{4}(?:\.\d{3})?)\Z", re.IGNORECASE)
_LEVELS: Final = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "high",
}
#: ``source.category`` the JSON view shows: the closest one for each type's rules.
_CATEGORY: Final = {"cve": "exploit", "email": "phishing", "url": "malware"}
_SIGMA_UNESCAPE = re.compile(r"\\([\\*?])")
FEED_NAME: Final = "imported"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID_LINE = re.compile(r"^id: *['\"]?([^'\"\s]+)", re.MULTILINE)
_DATE_LINE = re.compile(r"^date: *['\"]?(\d{4}-\d{2}-\d{2})", re.MULTILINE)


def rule_ids(text: str) -> list[str]:
    """The ``id`` of every rule in a rules text (a quick scan, not a YAML parse)."""
    return _ID_LINE.findall(text)


def rule_dates(text: str) -> list[str]:
    """The ``date`` of every rule in a rules text (a quick scan, not a YAML parse)."""
    return _DATE_LINE.findall(text)


@dataclass
class Imported:
    """What an import made of a rules text: IOC records, and what it had to skip (and why)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        """A reference instant for the mock's clock: the end of the newest rule's day, or
        earlier where that keeps the oldest rule inside the Pro look-back (365 days)."""
        added = sorted(datetime.fromisoformat(r["first_seen"]) for r in self.records)
        if not added:
            return datetime.now(UTC).replace(microsecond=0)
        day_end = added[-1] + timedelta(days=1, seconds=-1)
        return max(added[-1], min(day_end, added[0] + timedelta(days=365, seconds=-1)))


def sigma_unescape(value: str) -> str:
    """Undo Sigma's escaping (``\\*``, ``\\?``, ``\\\\``): the literal IOC."""
    return _SIGMA_UNESCAPE.sub(r"\1", value)


def _detection_values(detection: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(field without modifiers, value) for every string value; ``None`` for keywords."""
    for name, block in detection.items():
        if name == "condition":
            continue
        if isinstance(block, list):
            for item in block:
                if isinstance(item, str):
                    yield None, item
                elif isinstance(item, Mapping):
                    yield from _field_values(item)
        elif isinstance(block, Mapping):
            yield from _field_values(block)


def _field_values(block: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    for key, value in block.items():
        name = str(key).split("|")[0]
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | int):
                yield name, str(item)


def classify(category: str, field_name: str | None, value: str) -> tuple[str, str] | None:
    """(type, value) of one detection value, or None when it is no IOC the mock knows."""
    if (field_name is not None and field_name.lower() == "hashes") or _HASH_PREFIX.match(value):
        digest = _HASH_PREFIX.sub("", value)
        if _HEX.match(digest) and len(digest) in _HASH_BY_LENGTH:
            return _HASH_BY_LENGTH[len(digest)], digest.lower()
        return None
    named = _FIELD_TYPES.get((field_name or "").lower())
    if named is not None:
        return named, value
    return _by_shape(category, value)


def _by_shape(category: str, value: str) -> tuple[str, str] | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return f"ipv{address.version}", value
    if _CVE.match(value):
        return "cve", value
    if _EMAIL.match(value):
        return "email", value
    if "://" in value or category == "proxy":
        return "url", value
    if _HEX.match(value) and len(value) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(value)], value.lower()
    if "." in value and " " not in value and "/" not in value:
        return "domain", value
    return None


def _rule_date(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip().replace("/", "-"))
        except ValueError:
            return None
    return None


def record_from_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The IOC record one parsed rule describes; raises InvalidIOCError when it describes none."""
    logsource = rule.get("logsource")
    detection = rule.get("detection")
    if not isinstance(logsource, Mapping) or not isinstance(detection, Mapping):
        raise InvalidIOCError("no logsource or detection")
    category = str(logsource.get("category", ""))
    found = {
        classified
        for name, value in _detection_values(detection)
        if (classified := classify(category, name, sigma_unescape(value))) is not None
    }
    if len(found) != 1:
        raise InvalidIOCError(
            f"the detection names {len(found)} IOCs, not one" if found else "no IOC in detection"
        )
    ioc_type, value = found.pop()
    day = _rule_date(rule.get("date"))
    if day is None:
        raise InvalidIOCError(f"no usable date: {rule.get('date')!r}")
    added = format_instant(datetime.combine(day, datetime.min.time(), UTC))
    level = str(rule.get("level", "medium")).lower()
    if level not in _LEVELS:
        raise InvalidIOCError(f"unknown level {level!r}")
    raw_tags = rule.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    techniques = [m.group(1).upper() for t in tags if (m := _TECHNIQUE_TAG.match(str(t)))]
    record: dict[str, Any] = {
        "type": ioc_type,
        "value": value,
        "confidence": _LEVELS[level],
        "first_seen": added,
        "last_seen": added,
        "source": {"feed_name": FEED_NAME, "category": _CATEGORY.get(ioc_type, "c2")},
        "context": {},
        "tags": [],
        "mitre_techniques": list(dict.fromkeys(techniques)),
        "industries": [],
    }
    if ioc_type in ("md5", "sha1", "sha256"):
        record["source"]["category"] = "malware"
    ioc = IOC.from_json(record)  # validates and normalises; the id is derived from the value
    if rule.get("id") and str(rule["id"]) != ioc.id:
        record["context"] = {"sigma_rule_id": str(rule["id"])}
    return ioc.to_json() | {"context": record["context"]}


def split_rules(text: str) -> Iterator[tuple[int, Any]]:
    """(index, parsed document) for each YAML document; a document that does not parse is
    given as its error message (str), so one bad document never hides the others."""
    chunks = re.split(r"(?m)^---[ \t]*\r?$\n?", text)
    index = 0
    for chunk in chunks:
        if not chunk.strip() or chunk.strip() == "...":
            continue
        try:
            yield index, yaml.load(chunk, Loader=_LOADER)  # noqa: S506 (a safe loader)
        except yaml.YAMLError as exc:
            yield index, f"not YAML: {str(exc).splitlines()[0]}"
        index += 1


def import_rules(text: str, industries: Mapping[str, Iterable[str]] | None = None) -> Imported:
    """IOC records for every rule of a multi-document rules text (first one wins per IOC).

    ``industries`` maps an IOC id or a rule id to the sectors it was served for.
    """
    out = Imported()
    seen: set[str] = set()
    for index, rule in split_rules(text):
        if isinstance(rule, str):
            out.skipped.append(f"document {index}: {rule}")
            continue
        if not isinstance(rule, Mapping):
            out.skipped.append(f"document {index}: not a mapping")
            continue
        try:
            record = record_from_rule(rule)
        except InvalidIOCError as exc:
            out.skipped.append(f"document {index} ({rule.get('id', 'no id')}): {exc}")
            continue
        if record["id"] in seen:
            continue
        seen.add(record["id"])
        if industries:
            sectors = set(industries.get(record["id"], ())) | set(
                industries.get(str(rule.get("id")), ())
            )
            record["industries"] = sorted(sectors)
        out.records.append(record)
    out.records.sort(key=lambda r: (r["first_seen"], r["id"]))
    return out
