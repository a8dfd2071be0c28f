"""IOC → Sigma rule text, written by hand (not ``yaml.dump``) so that the layout is exactly the
vendor's sample rule: key order, two-space indent, ``  - `` list items, single-quoted values,
an unquoted ``date``.

The detection value goes through two escapings, in this order:

1. Sigma: ``\\`` → ``\\\\``, ``*`` → ``\\*``, ``?`` → ``\\?``, so that the rule matches the IOC
   literally instead of as a wildcard pattern (URLs often contain ``?``);
2. YAML: a single-quoted scalar with ``'`` doubled, or, when the text holds a character a
   single-quoted scalar cannot carry unchanged (line breaks, tabs, other non-printables), a
   double-quoted scalar with escapes.

Everything here is pure; the store caches the text per IOC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from mockserver.model import IOC

#: Media type of the rules body.
YAML_MEDIA_TYPE: Final = "application/yaml; charset=utf-8"
#: Separator between rule documents in a response body.
DOCUMENT_SEPARATOR: Final = "---\n"

_SIGMA_SPECIALS: Final = str.maketrans({"\\": "\\\\", "*": "\\*", "?": "\\?"})


@dataclass(frozen=True, slots=True)
class RuleShape:
    """How one IOC type becomes a rule: the texts and the detection layout."""

    title: str
    description: str
    tactic: str
    logsource: tuple[tuple[str, str], ...]
    #: Detection field (with modifiers); ``None`` for a ``keywords`` rule.
    field: str | None
    fields: tuple[str, ...]
    #: Written before the IOC in the detection value. Sysmon's ``Hashes`` field reads
    #: ``SHA1=...,MD5=...,SHA256=...``: ``MD5=<hash>`` matches only that algorithm's slot, and
    #: is the form SigmaHQ's ``sigmahq_invalid_hash_kv`` validator demands.
    value_prefix: str = ""


# Both builders run once, at import, to fill SHAPES: mutation testing cannot switch them per
# test (mutmut picks a mutant after import), so their output is pinned by the byte-for-byte
# rule tests instead.
def _network(label: str) -> RuleShape:  # pragma: no mutate block
    return RuleShape(
        title=f"SOC Defenders - Malicious {label} Indicator",
        description=(
            f"Detects network activity involving a malicious {label} address identified by "
            "SOC Defenders threat intelligence."
        ),
        tactic="attack.command-and-control",
        logsource=(("category", "network_connection"), ("product", "windows")),
        field="DestinationIp",
        fields=("SourceIp", "DestinationIp", "DestinationPort"),
    )


def _hash(label: str) -> RuleShape:  # pragma: no mutate block
    # Sysmon names the algorithms MD5, SHA1, SHA256 (no dash), whatever the title says.
    return RuleShape(
        title=f"SOC Defenders - Malicious {label} File Hash Indicator",
        description=(
            f"Detects execution of a file whose {label} hash was identified as malicious by "
            "SOC Defenders threat intelligence."
        ),
        tactic="attack.execution",
        logsource=(("category", "process_creation"), ("product", "windows")),
        field="Hashes|contains",
        fields=("Image", "CommandLine", "Hashes"),
        value_prefix=label.replace("-", "") + "=",
    )


#: One shape per type that has rules (``mitre-attack`` and ``sha512`` have none).
SHAPES: Final = MappingProxyType(
    {
        "ipv4": _network("IPv4"),
        "ipv6": _network("IPv6"),
        "domain": RuleShape(
            title="SOC Defenders - Malicious Domain Indicator",
            description=(
                "Detects DNS queries for a malicious domain identified by SOC Defenders "
                "threat intelligence."
            ),
            tactic="attack.command-and-control",
            logsource=(("category", "dns_query"), ("product", "windows")),
            field="QueryName",
            fields=("Image", "QueryName", "QueryResults"),
        ),
        "url": RuleShape(
            title="SOC Defenders - Malicious URL Indicator",
            description=(
                "Detects web proxy requests for a malicious URL identified by SOC Defenders "
                "threat intelligence."
            ),
            tactic="attack.command-and-control",
            logsource=(("category", "proxy"),),
            field="c-uri",
            fields=("c-ip", "cs-host", "c-uri", "c-useragent"),
        ),
        "md5": _hash("MD5"),
        "sha1": _hash("SHA1"),
        "sha256": _hash("SHA256"),
        "cve": RuleShape(
            title="SOC Defenders - Exploited Vulnerability Indicator",
            description=(
                "Detects web server log entries referencing a vulnerability that SOC Defenders "
                "threat intelligence reports as exploited in the wild."
            ),
            tactic="attack.initial-access",
            logsource=(("category", "webserver"),),
            field=None,
            fields=("c-ip", "cs-method", "c-uri"),
        ),
        "email": RuleShape(
            title="SOC Defenders - Malicious Email Address Indicator",
            description=(
                "Detects email log entries involving a malicious email address identified by "
                "SOC Defenders threat intelligence."
            ),
            tactic="attack.initial-access",
            logsource=(("category", "email"),),
            field=None,
            fields=("sender", "recipient", "subject"),
        ),
    }
)


def sigma_escape(value: str) -> str:
    """Escape Sigma's wildcard and escape characters so that ``value`` matches literally."""
    return value.translate(_SIGMA_SPECIALS)


# A single-quoted scalar folds line breaks and YAML forbids non-printables in it; tabs and
# a BOM are legal but easy to lose on a round trip, so they go double-quoted too. One regex
# search, not a loop over characters: every rule's value passes through here.
_NOT_SINGLE_QUOTABLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\ufeff\ud800-\udfff\u2028\u2029\ufffe\uffff]"
)


def _single_quotable(text: str) -> bool:
    return _NOT_SINGLE_QUOTABLE.search(text) is None


_DOUBLE_QUOTED_ESCAPES: Final = MappingProxyType(
    {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"}
)


def yaml_quote(text: str) -> str:
    """Return ``text`` as a YAML flow scalar that any YAML 1.1/1.2 loader reads back unchanged."""
    if _single_quotable(text):
        return "'" + text.replace("'", "''") + "'"
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in _DOUBLE_QUOTED_ESCAPES:
            parts.append(_DOUBLE_QUOTED_ESCAPES[char])
        elif _single_quotable(char):
            parts.append(char)
        elif code <= 0xFF:
            parts.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)


def has_rule(ioc_type: str) -> bool:
    """Whether IOCs of this type are served as Sigma rules."""
    return ioc_type in SHAPES


def render_rule(ioc: IOC) -> str:
    """Return the Sigma rule for ``ioc`` as one YAML document ending in a newline.

    Raises ``KeyError`` for types without rules (see :func:`has_rule`).
    """
    shape = SHAPES[ioc.type]
    value = yaml_quote(sigma_escape(shape.value_prefix + ioc.value))
    lines = [
        f"title: {shape.title}",
        f"id: {ioc.id}",
        "status: experimental",
        f"description: {shape.description}",
        "references:",
        "  - https://socdefenders.ai",
        "author: SOC Defenders",
        f"date: {ioc.added.strftime('%Y-%m-%d')}",
        "tags:",
        f"  - {shape.tactic}",
    ]
    lines.extend(f"  - attack.{technique.lower()}" for technique in ioc.mitre_techniques)
    lines.append("logsource:")
    lines.extend(f"  {key}: {val}" for key, val in shape.logsource)
    lines.append("detection:")
    if shape.field is None:
        lines += ["  keywords:", f"    - {value}", "  condition: keywords"]
    else:
        lines += ["  selection:", f"    {shape.field}: {value}", "  condition: selection"]
    lines.append("fields:")
    lines.extend(f"  - {name}" for name in shape.fields)
    lines += ["falsepositives:", "  - Unknown", f"level: {ioc.confidence}", ""]
    return "\n".join(lines)


def join_documents(documents: list[str]) -> str:
    """Join rule documents into one multi-document body (empty when there are none)."""
    return DOCUMENT_SEPARATOR.join(documents)
