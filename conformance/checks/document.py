"""Checks of one YAML document at a time (docs/contract.md §6): each names the property it holds.

A document that did not load (or is not a mapping) is judged by the loading checks only; the
others yield nothing for it, so one defect fails exactly one check.

Over 300 lines because it is the vendor's rule format, one check per property of it; split
by property, a reader would lose the one place that says what a good rule is.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

from conformance import contract
from conformance.findings import Finding, Reproduction, Severity, SkipCheck
from conformance.registry import check
from conformance.rules.conditions import condition_problems
from conformance.rules.documents import LoadProblem, RuleDocument
from conformance.rules.indicators import (
    is_defanged,
    is_valid,
    shape_type,
    unescape_sigma,
)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: pySigma's second accepted form (sigma/rule/base.py): 1000/1/1 to 3999/12/31.
_SLASHED_DAY = re.compile(r"([1-3]\d{3})/([01]?\d)/([0-3]?\d)")
_TAG = re.compile(r"^[a-z0-9_-]+\.[a-z0-9_.-]+$")
_ATTACK_ID = re.compile(r"^(?:t\d{4}(?:\.\d{3})?|g\d{4}|s\d{4}|m\d{4}|ds\d{4}|ta\d{4})$")
#: Enterprise ATT&CK tactics as Sigma writes them (kebab-case; older rules: snake_case).
#: Source: MITRE ATT&CK Enterprise matrix, version 18 (October 2025), whose tactic list names
#: ``stealth`` and ``defense-impairment``; ``defense-evasion`` and the other names of ATT&CK
#: v17 and earlier stay accepted, since rules written before v18 keep using them.
ATTACK_VERSION = "Enterprise ATT&CK v18"
ATTACK_TACTICS = frozenset(
    {
        "reconnaissance",
        "resource-development",
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "stealth",  # v18
        "defense-impairment",  # v18
        "defense-evasion",  # up to v17
        "credential-access",
        "discovery",
        "lateral-movement",
        "collection",
        "command-and-control",
        "exfiltration",
        "impact",
    }
)
#: Top-level keys of a Sigma 2.0 rule, correlation or filter (the specification's, plus the
#: two SigmaHQ's own validator allows: ``regression_tests_path`` and ``simulation``).
SIGMA_KEYS = frozenset(
    {
        "title", "id", "name", "related", "taxonomy", "status", "description", "license",
        "references", "author", "date", "modified", "tags", "logsource", "detection",
        "fields", "falsepositives", "level", "scope", "correlation", "filter", "generate",
        "regression_tests_path", "simulation",
    }
)  # fmt: skip
#: Required keys per kind of document (Sigma 2.0: rules, correlations, filters).
REQUIRED_KEYS = {
    "rule": contract.REQUIRED_RULE_FIELDS,
    "correlation": ("title", "correlation"),
    "filter": ("title", "logsource", "filter"),
}


def rule_mapping(doc: RuleDocument) -> dict[str, Any] | None:
    """The document as a rule: its mapping, unless it is not one or is an action document
    (judged by ``no_action_documents`` alone)."""
    data = doc.mapping
    return None if data is None or "action" in data else data


#: Why a document check judged nothing: shared wording, so a file of no rule reads as one reason.
NO_RULE = "no rule could be read"


def require_rule(doc: RuleDocument) -> dict[str, Any]:
    """The document as a rule, or SkipCheck: a check never passes a document it cannot judge."""
    data = rule_mapping(doc)
    if data is None:
        raise SkipCheck(NO_RULE)
    return data


def require_field(data: dict[str, Any], *names: str) -> None:
    """SkipCheck unless the rule has one of ``names`` (its absence is another check's)."""
    if all(data.get(name) is None for name in names):
        raise SkipCheck(f"no rule has {' or '.join(names)}")


def document_finding(
    doc: RuleDocument,
    message: str,
    *,
    received: str | None = None,
    expected: str | None = None,
    severity: Severity = Severity.FAILURE,
    documented: bool = True,
) -> Finding:
    """A finding about one document, carrying the document for the reproduction."""
    return Finding(
        check="",  # the runner names the check
        message=message,
        severity=severity,
        received=received,
        expected=expected,
        documented=documented,
        reproduction=Reproduction(
            document=doc.text,
            document_index=doc.index,
            source=doc.source,
            line=doc.line,
            rule=doc.label if doc.mapping is not None else None,
        ),
    )


@check("document")
def documents_are_mappings(doc: RuleDocument) -> Iterator[Finding]:
    """Every document is a mapping (no null document, no bare list or scalar)."""
    if doc.error is not None:
        raise SkipCheck("no document could be loaded")
    if doc.data is None:
        where = "after the final ---" if doc.trailing else "between two ---"
        yield document_finding(
            doc,
            f"empty (null) YAML document {where}",
            received="null",
            expected="a rule mapping",
            # pySigma skips a trailing empty document: worth a warning, not a broken feed.
            severity=Severity.WARNING if doc.trailing else Severity.FAILURE,
        )
    elif not isinstance(doc.data, dict):
        yield document_finding(
            doc,
            "document is not a mapping",
            received=type(doc.data).__name__,
            expected="a rule mapping",
        )


@check("document")
def no_duplicate_keys(doc: RuleDocument) -> Iterator[Finding]:
    """No mapping repeats a key (pySigma's loader refuses such a document)."""
    if doc.error is not None and doc.problem is not LoadProblem.DUPLICATE_KEY:
        raise SkipCheck("no document could be loaded")
    if doc.problem is LoadProblem.DUPLICATE_KEY:
        yield document_finding(doc, doc.error or "duplicate key", expected="unique keys")


@check("document")
def no_action_documents(doc: RuleDocument) -> Iterator[Finding]:
    """No ``action:`` document (pySigma merges ``action: global`` into every later rule)."""
    data = doc.mapping
    if data is None:
        raise SkipCheck(NO_RULE)
    if "action" in data:
        yield document_finding(
            doc,
            f"collection action document (action: {data['action']!r})",
            received=f"action: {data['action']!r}",
            expected="one self-contained rule per document",
        )


@check("document")
def required_fields_present(doc: RuleDocument) -> Iterator[Finding]:
    """A rule has ``title``, ``id``, ``logsource`` and ``detection`` with a ``condition``; a
    correlation has ``title`` and ``correlation``; a filter ``title``, ``logsource`` and
    ``filter`` with a ``condition``."""
    data = require_rule(doc)
    kind = doc.kind or "rule"
    required = REQUIRED_KEYS.get(kind, contract.REQUIRED_RULE_FIELDS)
    missing = [f for f in required if data.get(f) in (None, "", [], {})]
    body_key = {"rule": "detection", "filter": "filter"}.get(kind)
    body = data.get(body_key) if body_key else None
    if isinstance(body, dict) and not body.get("condition"):
        missing.append(f"{body_key}.condition")
    if missing:
        yield document_finding(
            doc,
            f"{kind} without required field(s): {', '.join(missing)}",
            received=", ".join(sorted(map(str, data))),
            expected=", ".join(required) + (f", {body_key}.condition" if body_key else ""),
        )


@check("document")
def top_level_keys_are_known(doc: RuleDocument) -> Iterator[Finding]:
    """Top-level keys are Sigma's (a warning naming the others: a typo such as ``detections``
    or ``falsepositive`` silently drops what it holds)."""
    data = require_rule(doc)
    unknown = [str(k) for k in data if k not in SIGMA_KEYS]
    if unknown:
        yield document_finding(
            doc,
            f"unknown top-level key(s): {', '.join(unknown)}",
            received=", ".join(unknown),
            expected="keys of the Sigma specification",
            severity=Severity.WARNING,
        )


@check("document")
def detection_condition_is_valid(doc: RuleDocument) -> Iterator[Finding]:
    """The ``condition`` of a rule (or filter) parses with pySigma's condition grammar and
    every selection it names exists (``1 of selection_*`` must match at least one)."""
    data = require_rule(doc)
    if doc.kind not in ("rule", "filter"):
        raise SkipCheck("no rule or filter has a condition")
    body = data.get("detection" if doc.kind == "rule" else "filter")
    if not isinstance(body, dict) or not body.get("condition"):
        raise SkipCheck("no rule has a condition")  # required_fields_present reports it
    conditions = body["condition"]
    names = [str(k) for k in body if k != "condition"]
    for condition in conditions if isinstance(conditions, list) else [conditions]:
        for problem in condition_problems(condition, names):
            yield document_finding(
                doc,
                f"condition {str(condition)!r}: {problem}",
                received=str(condition),
                expected=f"a Sigma condition over {', '.join(names) or 'its selections'}",
            )


@check("document")
def documented_fields_present(doc: RuleDocument) -> Iterator[Finding]:
    """The vendor's documented ``status``, ``description``, ``references``, ``author``,
    ``date`` and ``level`` are present."""
    data = require_rule(doc)
    missing = [f for f in contract.DOCUMENTED_RULE_FIELDS if data.get(f) in (None, "", [])]
    if missing:
        yield document_finding(
            doc,
            f"missing documented field(s): {', '.join(missing)}",
            expected=", ".join(contract.DOCUMENTED_RULE_FIELDS),
        )


@check("document")
def enumerations_are_valid(doc: RuleDocument) -> Iterator[Finding]:
    """``status`` and ``level`` hold Sigma's enumeration values."""
    data = require_rule(doc)
    require_field(data, "status", "level")
    for name, allowed in (("status", contract.SIGMA_STATUSES), ("level", contract.SIGMA_LEVELS)):
        value = data.get(name)
        if value is not None and value not in allowed:
            yield document_finding(
                doc,
                f"{name} {value!r} is not a Sigma {name}",
                received=repr(value),
                expected=" | ".join(allowed),
            )


@check("document")
def date_is_iso_day(doc: RuleDocument) -> Iterator[Finding]:
    """``date`` (and ``modified``) are calendar days written ``YYYY-MM-DD``."""
    data = require_rule(doc)
    require_field(data, "date", "modified")
    for name in ("date", "modified"):
        value = data.get(name)
        if value is not None and not _is_iso_day(value):
            yield document_finding(
                doc,
                f"{name} {value!s} is not a YYYY-MM-DD day",
                received=repr(value),
                expected="YYYY-MM-DD",
            )


@check("document")
def date_is_a_sigma_date(doc: RuleDocument) -> Iterator[Finding]:
    """``date`` and ``modified`` are days as Sigma reads them (``--profile sigma``).

    The specification writes ``YYYY-MM-DD``; pySigma also reads ``YYYY/MM/DD`` (older rules use
    it), so that form is a warning, not a failure: ``sigma check`` accepts the rule.
    """
    data = require_rule(doc)
    require_field(data, "date", "modified")
    for name in ("date", "modified"):
        value = data.get(name)
        if value is None or _is_iso_day(value):
            continue
        slashed = _slashed_day(value)
        yield document_finding(
            doc,
            f"{name} {value!s} is written YYYY/MM/DD: pySigma reads it, the specification "
            "writes YYYY-MM-DD"
            if slashed
            else f"{name} {value!s} is not a day Sigma reads (YYYY-MM-DD)",
            received=repr(value),
            expected="YYYY-MM-DD",
            severity=Severity.WARNING if slashed else Severity.FAILURE,
        )


def _slashed_day(value: Any) -> bool:
    """A string pySigma reads as a day in its older form, ``YYYY/M/D`` (a real day)."""
    found = _SLASHED_DAY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return False
    try:
        dt.date(*(int(part) for part in found.groups()))
    except ValueError:
        return False
    return True


def _is_iso_day(value: Any) -> bool:
    """An unquoted YAML date, or a string spelling a real day as ``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        return False  # a timestamp, not a day
    if isinstance(value, dt.date):
        return True
    if not isinstance(value, str) or not _DAY.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _uuid(value: Any) -> uuid.UUID | None:
    """The UUID a rule id spells in the canonical 8-4-4-4-12 form, or None."""
    text = str(value)
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return parsed if str(parsed) == text.lower() else None


@check("document")
def id_is_uuid(doc: RuleDocument) -> Iterator[Finding]:
    """The rule ``id`` is a UUID (any version: the vendor derives ids deterministically)."""
    data = require_rule(doc)
    require_field(data, "id")
    if _uuid(data["id"]) is None:
        yield document_finding(
            doc,
            f"id {data['id']!s} is not a UUID",
            received=repr(data["id"]),
            expected="xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        )


@check("document")
def id_is_uuid_v4(doc: RuleDocument) -> Iterator[Finding]:
    """The rule ``id`` is a random (version 4) UUID; selected by ``--uuid-v4`` only."""
    data = require_rule(doc)
    require_field(data, "id")
    parsed = _uuid(data["id"])
    if parsed is not None and parsed.version != 4:
        yield document_finding(
            doc,
            f"id {data['id']!s} is a version {parsed.version} UUID",
            received=f"UUID version {parsed.version}",
            expected="UUID version 4",
        )


@check("document")
def detection_value_is_literal_ioc(doc: RuleDocument) -> Iterator[Finding]:
    """The detection value is the literal IOC: valid for its type, not defanged, and with
    Sigma's wildcard characters escaped."""
    identity = doc.identity
    data = require_rule(doc)
    if identity is None or "detection" not in data:
        raise SkipCheck("no rule has a detection")
    raw, value = identity.raw_value, identity.value
    if raw is None or value is None:
        yield document_finding(doc, "detection holds no string value", expected="the IOC")
        return
    if is_defanged(value):
        yield document_finding(
            doc, "the IOC is defanged", received=raw, expected="the IOC as it appears"
        )
        return
    if identity.has_wildcards and not _hash_edges_only(identity.field, raw):
        plain, _ = unescape_sigma(raw)
        yield document_finding(
            doc,
            "unescaped Sigma wildcard: the rule matches more than the IOC",
            received=raw,
            expected="".join("\\" + c if c in "*?" else c for c in plain),
        )
        return
    if identity.ioc_type is None:
        yield document_finding(
            doc,
            "the detection value is not an IOC of any documented type",
            received=raw,
            expected=" | ".join(contract.SIGMA_TYPES),
        )
    elif not is_valid(identity.ioc_type, value):
        yield document_finding(
            doc,
            f"not a valid {identity.ioc_type} value",
            received=raw,
            expected=f"a literal {identity.ioc_type}",
        )


def _hash_edges_only(field: str | None, raw: str) -> bool:
    """``*SHA256=...*`` on ``Hashes`` is a contains match: wildcards at the edges only."""
    if (field or "").lower() not in ("hashes", "hash"):
        return False
    _, inner_wildcards = unescape_sigma(raw.strip("*"))
    return not inner_wildcards


@check("document")
def logsource_matches_type(doc: RuleDocument) -> Iterator[Finding]:
    """Logsource category and detection field are the documented ones for the IOC's type
    (``cve`` and ``email`` have no documented mapping: any is accepted)."""
    identity = doc.identity
    require_rule(doc)
    if identity is None or identity.ioc_type is None:
        raise SkipCheck("no rule's IOC type could be told")
    ioc_type = identity.ioc_type
    shape = shape_type(identity.value) if identity.value else None
    if ioc_type in ("ipv4", "ipv6") and shape not in (None, "ipv4", "ipv6"):
        # An IP field makes the rule's type an IP whatever its value; a value that is plainly
        # another type's (a domain under DestinationIp) is that type under the wrong mapping.
        ioc_type = shape
    mapping = contract.TYPE_MAPPINGS.get(ioc_type)
    if mapping is None:
        raise SkipCheck(f"no documented logsource for {ioc_type} rules")
    problems = []
    if identity.category not in mapping.categories:
        problems.append(f"category {identity.category!r}")
    if identity.field != mapping.field:
        problems.append(f"field {identity.field!r}")
    if problems:
        yield document_finding(
            doc,
            f"{ioc_type} rule with {' and '.join(problems)}",
            received=f"category {identity.category!r}, field {identity.field!r}",
            expected=f"category {' or '.join(mapping.categories)}, field {mapping.field!r}",
        )


@check("document")
def attack_tags_are_well_formed(doc: RuleDocument) -> Iterator[Finding]:
    """Tags are ``namespace.name``; ``attack.`` tags name a tactic or a technique/group id."""
    data = require_rule(doc)
    require_field(data, "tags")
    tags = data["tags"]
    if not isinstance(tags, list):
        yield document_finding(doc, "tags is not a list", received=repr(tags))
        return
    for tag in tags:
        text = str(tag)
        namespace, _, name = text.partition(".")
        bad = not isinstance(tag, str) or not _TAG.match(text)
        if namespace == "attack" and not bad:
            bad = not (_ATTACK_ID.match(name) or name.replace("_", "-") in ATTACK_TACTICS)
        if bad:
            yield document_finding(
                doc,
                f"malformed tag {text!r}",
                received=text,
                expected="attack.<tactic> | attack.tNNNN[.NNN] | attack.gNNNN | attack.sNNNN",
            )
