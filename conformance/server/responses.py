"""Responses as the server checks see them: Sigma bodies parsed into rules, IOC lists, keys.

An IOC is known to the checks by its key, ``(type, value)`` normalised the way the contract
allows values to differ in spelling (hashes and host names are case-insensitive, IPv6 has
one compressed form), so a rule and a list entry for the same IOC meet.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance import contract
from conformance.findings import CheckFailure, Finding, Reproduction
from conformance.rules.documents import RuleSet, parse_body
from conformance.rules.indicators import RuleIdentity, rule_identity
from conformance.server.transport import Response

IocKey = tuple[str, str]
_CASELESS = {"md5", "sha1", "sha256", "sha512", "domain", "email", "cve"}


def query_key(query: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A hashable, order-free form of a query."""
    return tuple(sorted(query.items()))


def ioc_key(ioc_type: str, value: str) -> IocKey:
    """The normalised ``(type, value)`` of an IOC."""
    ioc_type = ioc_type.strip().lower()
    value = value.strip()
    if ioc_type in _CASELESS:
        value = value.lower().rstrip(".") if ioc_type == "domain" else value.lower()
    elif ioc_type == "ipv6":
        # Not an address: compared as written, and the document checks say why.
        with contextlib.suppress(ValueError):
            value = ipaddress.IPv6Address(value).compressed
    return ioc_type, value


@dataclass(frozen=True)
class Fetched:
    """A Sigma response with its parsed rules (one identity per document, None if unusable)."""

    response: Response
    rules: RuleSet
    identities: tuple[RuleIdentity | None, ...]

    @classmethod
    def of(cls, response: Response) -> Fetched:
        """Parse a response's body (only when it is a 200: error bodies are not rules)."""
        source = response.exchange.full_url()
        if response.status != 200:
            return cls(response, RuleSet(source, ()), ())
        rules = parse_body(response.body, source=source)
        identities = tuple(rule_identity(d) for d in rules.documents if not d.trailing)
        return cls(response, rules, identities)

    @property
    def curl(self) -> str:
        """The request that produced this response, as a curl line (key redacted)."""
        return self.response.exchange.curl()

    def count(self) -> int:
        """How many rules (non-empty documents) the body holds."""
        return len(self.identities)

    def ids(self) -> list[str | None]:
        """Rule ids in body order."""
        return [i.id if i is not None else None for i in self.identities]

    def by_ioc(self) -> dict[IocKey, RuleIdentity]:
        """Rules by the IOC they detect (rules whose IOC cannot be told are left out)."""
        out: dict[IocKey, RuleIdentity] = {}
        for identity in self.identities:
            if identity is not None and identity.ioc_type and identity.value is not None:
                out[ioc_key(identity.ioc_type, identity.value)] = identity
        return out

    def id_set(self) -> set[str]:
        """The set of rule ids present."""
        return {i for i in self.ids() if i is not None}

    def truncated(self, limit: int) -> bool:
        """Whether the body may have been cut by ``limit`` (as many rules as allowed)."""
        return self.count() >= limit

    def document_text(self, rule_id: str) -> str | None:
        """The YAML text of the rule with this id, for a reproduction."""
        body_docs = [d for d in self.rules.documents if not d.trailing]
        for doc, identity in zip(body_docs, self.identities, strict=False):
            if identity is not None and identity.id == rule_id:
                return doc.text
        return None


@dataclass(frozen=True)
class ListedIoc:
    """One entry of ``/api/v1/iocs``: the fields the cross-checks need."""

    type: str
    value: str
    first_seen: str | None
    last_seen: str | None
    confidence: str | None


@dataclass(frozen=True)
class IocList:
    """The JSON sibling's answer; ``unavailable`` says why it cannot be used."""

    response: Response | None
    iocs: tuple[ListedIoc, ...] = ()
    total: int | None = None
    unavailable: str | None = None

    @classmethod
    def of(cls, response: Response) -> IocList:
        """Read a ``/api/v1/iocs`` response; anything but a readable 200 is unavailable."""
        if response.status != 200:
            return cls(response, unavailable=f"HTTP {response.status}")
        try:
            payload = json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return cls(response, unavailable=f"its body is not JSON ({exc})")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            return cls(response, unavailable="its body has no 'data' list")
        iocs = tuple(entry for entry in (_listed(item) for item in data) if entry is not None)
        meta = payload.get("meta")
        total = meta.get("total") if isinstance(meta, dict) else None
        return cls(response, iocs, total if isinstance(total, int) else None)

    @property
    def curl(self) -> str:
        """The request, as a curl line."""
        return self.response.exchange.curl() if self.response is not None else ""

    def keys(self) -> set[IocKey]:
        """The listed IOCs' keys."""
        return {ioc_key(i.type, i.value) for i in self.iocs}

    def complete(self) -> bool:
        """Whether the list holds every matching IOC (its total, when given, is reached)."""
        return self.total is None or self.total <= len(self.iocs)


def _listed(item: Any) -> ListedIoc | None:
    if not isinstance(item, dict):
        return None
    ioc_type, value = item.get("type"), item.get("value")
    if not isinstance(ioc_type, str) or not isinstance(value, str):
        return None
    first_seen, last_seen = item.get("first_seen"), item.get("last_seen")
    confidence = item.get("confidence")
    return ListedIoc(
        ioc_type,
        value,
        first_seen if isinstance(first_seen, str) else None,
        last_seen if isinstance(last_seen, str) else None,
        confidence if isinstance(confidence, str) else None,
    )


def is_sigma_type(ioc_type: str) -> bool:
    """Whether the Sigma format page documents rules for this type."""
    return ioc_type in contract.SIGMA_TYPES


def failure(
    message: str,
    *,
    curl: str | None = None,
    received: str | None = None,
    expected: str | None = None,
    document: str | None = None,
    documented: bool = True,
) -> CheckFailure:
    """A CheckFailure for the running check (the runner fills in the check's name and seed)."""
    finding = Finding(
        "",
        message,
        received=received,
        expected=expected,
        documented=documented,
        reproduction=Reproduction(curl=curl, document=document),
    )
    return CheckFailure(finding)


def envelope_problems(response: Response) -> list[tuple[str, bool]]:
    """What keeps an error body from being the documented envelope: ``(problem, documented)``.

    Documented: a JSON object ``{"error": {"code", "message", "request_id"}}`` with string
    values and an optional ``details`` object. Undocumented: the ``application/json`` media
    type and the ``req_`` prefix of request ids (the vendor shows them, without promising).
    """
    problems: list[tuple[str, bool]] = []
    if response.media_type != contract.JSON_MEDIA_TYPE:
        problems.append((f"Content-Type is {response.media_type or 'missing'!r}", False))
    try:
        payload = json.loads(response.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return [*problems, ("the body is not JSON", True)]
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return [*problems, ("the body has no 'error' object", True)]
    for key in contract.ENVELOPE_REQUIRED_KEYS:
        if not isinstance(error.get(key), str) or not error.get(key):
            problems.append((f"error.{key} is missing or not a non-empty string", True))
    if "details" in error and not isinstance(error["details"], dict):
        problems.append(("error.details is not an object", True))
    request_id = error.get("request_id")
    if isinstance(request_id, str) and not request_id.startswith(contract.REQUEST_ID_PREFIX):
        problems.append((f"error.request_id {request_id!r} lacks the 'req_' prefix", False))
    return problems


def error_code(response: Response) -> str | None:
    """The envelope's ``error.code``, or None when there is none."""
    try:
        payload = json.loads(response.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def excerpt(response: Response, size: int = 300) -> str:
    """``HTTP <status>: <start of body>`` (keys already redacted)."""
    return f"HTTP {response.status}: {response.exchange.body_excerpt[:size]}"
