"""IOC values: per-type validators, defanging, Sigma unescaping, and what a rule is about.

``rule_identity`` reads any server's rule, not just the mock's: the IOC type comes from the
detection field where the field is telling, from the value's shape otherwise, and from the
logsource as a last resort.

Over 300 lines because every IOC type's validator, defanging and unescaping sit together:
the one place that says what a literal IOC is.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.IGNORECASE)
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-f]+$", re.IGNORECASE)
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
_EMAIL_LOCAL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$", re.I
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$", re.IGNORECASE)
_HASH_PREFIX = re.compile(r"^(MD5|SHA1|SHA256|IMPHASH|SHA384|SHA512)=(.*)$", re.IGNORECASE)
_DEFANGED = re.compile(
    r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\[:\]|\[://\]|\[/\]|\[@\]|\(@\)"
    r"|\[at\]|\(at\)|\{at\}|^hxxps?\b|^hxxp|^fxp\b|^meow|\bhxxps?://",
    re.IGNORECASE,
)
HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}


def is_ipv4(value: str) -> bool:
    """A dotted-quad IPv4 address (no leading zeros, no shorthand)."""
    if value.count(".") != 3:
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def is_ipv6(value: str) -> bool:
    """An IPv6 address (no zone id, no brackets)."""
    if ":" not in value or "%" in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_domain(value: str) -> bool:
    """A hostname of two or more labels; IDNA names and punycode (``xn--``) labels accepted."""
    if not value or value != value.strip() or value.endswith(".") or is_ipv4(value):
        return False
    try:
        ascii_name = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        return False
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not _TLD.match(labels[-1]):
        return False
    for label in labels:
        if not _LABEL.match(label):
            return False
        if label.lower().startswith("xn--") and not _is_punycode(label[4:]):
            return False
    return True


def _is_punycode(encoded: str) -> bool:
    try:
        codecs.decode(encoded.encode("ascii"), "punycode")
    except (UnicodeError, ValueError):
        return False
    return True


def is_url(value: str) -> bool:
    """An absolute URL with a scheme and a valid host (name, IPv4 or bracketed IPv6).

    Feeds carry URLs as they were observed, so the path, query and fragment may hold characters
    RFC 3986 would have percent-encoded (a space, quotes, ``\\``); the scheme and authority may
    not, and no part may hold a control character or a line break.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "://" not in value:
        return False
    authority = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if any(c.isspace() for c in authority):
        return False
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises on a bad port
    except ValueError:
        return False
    if not _SCHEME.match(parts.scheme) or not host:
        return False
    return is_domain(host) or is_ipv4(host) or is_ipv6(host)


def is_hash(value: str, length: int) -> bool:
    """Hex digits of exactly ``length`` characters."""
    return len(value) == length and bool(_HEX.match(value))


def is_cve(value: str) -> bool:
    """``CVE-YYYY-NNNN`` with four or more digits in the sequence number."""
    return bool(_CVE.match(value))


def is_email(value: str) -> bool:
    """``local@domain`` with a dot-atom local part and a valid domain."""
    local, at, domain = value.rpartition("@")
    return bool(at) and len(local) <= 64 and bool(_EMAIL_LOCAL.match(local)) and is_domain(domain)


#: Literal-value validators per documented IOC type.
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "domain": is_domain,
    "url": is_url,
    "md5": lambda v: is_hash(v, 32),
    "sha1": lambda v: is_hash(v, 40),
    "sha256": lambda v: is_hash(v, 64),
    "cve": is_cve,
    "email": is_email,
}


def is_valid(ioc_type: str, value: str) -> bool:
    """Whether ``value`` is a valid literal of ``ioc_type`` (unknown types: never)."""
    validator = VALIDATORS.get(ioc_type)
    return validator is not None and validator(value)


def is_defanged(value: str) -> bool:
    """Whether the value was made non-clickable (``[.]``, ``hxxp``, ``(dot)``, ``[@]`` ...)."""
    return bool(_DEFANGED.search(value))


def unescape_sigma(text: str) -> tuple[str, bool]:
    """The plain string a Sigma value matches, and whether it holds unescaped wildcards.

    pySigma's rules (``SigmaString``): ``\\`` escapes the next character when that one is
    ``*``, ``?`` or ``\\``; before any other character (or at the end) it is a plain backslash.
    Unescaped ``*`` and ``?`` are wildcards; they stay in ``plain`` as themselves.
    """
    out: list[str] = []
    wildcards = False
    escaped = False
    for c in text:
        if escaped:
            out.append(c if c in "*?\\" else "\\" + c)
            escaped = False
        elif c == "\\":
            escaped = True
        else:
            wildcards = wildcards or c in "*?"
            out.append(c)
    if escaped:
        out.append("\\")
    return "".join(out), wildcards


_REFANG = (
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}", re.I), "."),
    (re.compile(r"\[@\]|\(@\)|\[at\]|\(at\)|\{at\}", re.I), "@"),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[://\]"), "://"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r"^hxxp", re.I), "http"),
)


def refang(value: str) -> str:
    """The value with common defanging undone (to tell what type a defanged IOC is)."""
    for pattern, replacement in _REFANG:
        value = pattern.sub(replacement, value)
    return value


def shape_type(value: str) -> str | None:
    """The IOC type a value looks like (defanged or not), or None."""
    value = refang(value)
    if is_ipv4(value):
        return "ipv4"
    if is_ipv6(value):
        return "ipv6"
    if is_cve(value):
        return "cve"
    if _HEX.match(value) and len(value) in HASH_LENGTHS:
        return HASH_LENGTHS[len(value)]
    if is_url(value):
        return "url"
    if is_email(value):
        return "email"
    if is_domain(value):
        return "domain"
    return None


@dataclass(frozen=True)
class DetectionValue:
    """One string value of a rule's detection, with its field (None for keywords)."""

    field: str | None
    modifiers: tuple[str, ...]
    raw: str


@dataclass(frozen=True)
class RuleIdentity:
    """What a rule is about: its metadata and the IOC its detection matches."""

    id: str | None
    title: str | None
    level: str | None
    date: str | None
    ioc_type: str | None
    value: str | None  # the literal IOC after unescaping (hash ``ALGO=`` prefix removed)
    tags: tuple[str, ...]
    field: str | None = None
    raw_value: str | None = None  # the detection value as written
    has_wildcards: bool = False
    category: str | None = None
    product: str | None = None


#: Detection fields that tell the IOC family, lower-cased.
_IP_FIELDS = {"destinationip", "sourceip", "dst_ip", "src_ip", "destination.ip", "source.ip", "ip"}
_IP_FIELDS |= {"dstip", "srcip", "c-ip", "s-ip", "remoteip", "ipaddress", "dst", "src"}
_DOMAIN_FIELDS = {"queryname", "destinationhostname", "query", "dns.question.name", "domain"}
_DOMAIN_FIELDS |= {"r-dns", "cs-host", "hostname", "dnsquery"}
_URL_FIELDS = {"c-uri", "url", "url.original", "uri", "cs-uri", "requesturl", "c-uri-query"}
_HASH_FIELDS = {"hashes", "hash", "md5", "sha1", "sha256", "file.hash.md5", "file.hash.sha1"}
_HASH_FIELDS |= {"file.hash.sha256", "imphash"}
_EMAIL_FIELDS = {"sender", "recipient", "from", "to", "email", "mailfrom", "sender_email"}
_CATEGORY_TYPES = {"dns": "domain", "dns_query": "domain", "proxy": "url"}


def detection_values(data: dict[str, Any]) -> Iterator[DetectionValue]:
    """Every scalar string value in a rule's detection (not its condition), in order."""
    detection = data.get("detection")
    if not isinstance(detection, dict):
        return
    for name, item in detection.items():
        if name == "condition":
            continue
        yield from _values_of(item)


def _values_of(item: Any) -> Iterator[DetectionValue]:
    if isinstance(item, dict):
        for key, value in item.items():
            field, *mods = str(key).split("|")
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str | int | float) and not isinstance(v, bool):
                    yield DetectionValue(field or None, tuple(mods), str(v))
    elif isinstance(item, list):
        for entry in item:
            if isinstance(entry, dict):
                yield from _values_of(entry)
            elif isinstance(entry, str | int | float) and not isinstance(entry, bool):
                yield DetectionValue(None, (), str(entry))
    elif isinstance(item, str):
        yield DetectionValue(None, (), item)


def split_hash_prefix(value: str) -> tuple[str | None, str]:
    """``("SHA256", hex)`` for a Sysmon ``Hashes`` entry ``SHA256=...``, else ``(None, value)``."""
    match = _HASH_PREFIX.match(value)
    return (match.group(1).upper(), match.group(2)) if match else (None, value)


def infer_type(field: str | None, value: str, category: str | None) -> str | None:
    """The IOC type from the detection field, then the value's shape, then the logsource."""
    name = (field or "").lower()
    shape = shape_type(value)
    if name in _IP_FIELDS:
        return shape if shape in ("ipv4", "ipv6") else ("ipv6" if ":" in value else "ipv4")
    if name in _HASH_FIELDS:
        return HASH_LENGTHS.get(len(value), shape if shape in HASH_LENGTHS.values() else "md5")
    if name in _URL_FIELDS:
        return "url"
    if name in _DOMAIN_FIELDS:
        return "domain"
    if name in _EMAIL_FIELDS:
        return "email"
    if shape is not None:
        return shape
    return _CATEGORY_TYPES.get(category or "")


class _Document(Protocol):
    """What :func:`rule_identity` reads of a document (``rules.documents.RuleDocument``; not
    imported: ``documents`` imports this module)."""

    @property
    def mapping(self) -> dict[str, Any] | None: ...


def rule_identity(doc: _Document) -> RuleIdentity | None:
    """What a rule document is about; None when it is not a mapping."""
    data = doc.mapping
    if data is None:
        return None
    logsource = data.get("logsource")
    category = product = None
    if isinstance(logsource, dict):
        category = _text(logsource.get("category"))
        product = _text(logsource.get("product"))
    tags = data.get("tags")
    identity = RuleIdentity(
        id=_text(data.get("id")),
        title=_text(data.get("title")),
        level=_text(data.get("level")),
        date=_text(data.get("date")),
        ioc_type=None,
        value=None,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        category=category,
        product=product,
    )
    for item in detection_values(data):
        plain, wildcards = unescape_sigma(item.raw)
        if (item.field or "").lower() in _HASH_FIELDS:
            _, plain = split_hash_prefix(plain.strip("*") if wildcards else plain)
        ioc_type = infer_type(item.field, plain, category)
        return _replace(identity, item, plain, wildcards, ioc_type)
    return identity


def _replace(
    identity: RuleIdentity, item: DetectionValue, plain: str, wildcards: bool, ioc_type: str | None
) -> RuleIdentity:
    return replace(
        identity,
        ioc_type=ioc_type,
        value=plain,
        field=item.field,
        raw_value=item.raw,
        has_wildcards=wildcards,
    )


def _text(value: Any) -> str | None:
    """A scalar as text (YAML dates become ``YYYY-MM-DD``), None for missing or structured."""
    if value is None or isinstance(value, dict | list):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
