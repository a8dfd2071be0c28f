"""The SOC Defenders contract, as the vendor documents it (``docs/contract.md``).

This module is the checker's only source of expectations. It is written from the vendor's
documentation, never from the mock: a server is judged by what the vendor documents, and what
is undocumented is marked so that checks report it as a warning unless ``--strict`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

#: The endpoint under test and its JSON sibling.
SIGMA_PATH: Final = "/api/v1/iocs/sigma"
IOCS_PATH: Final = "/api/v1/iocs"
DEFAULT_BASE_URL: Final = "https://socdefenders.ai"

#: IOC types the Sigma format page documents; each must yield valid, compilable rules.
SIGMA_TYPES: Final = ("ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "cve", "email")
#: Types other pages (or the OpenAPI file) add: a server must accept them; rules are optional.
EXTRA_TYPES: Final = ("mitre-attack", "mitre_attack", "sha512")
ALL_TYPES: Final = SIGMA_TYPES + EXTRA_TYPES
HASH_TYPES: Final = ("md5", "sha1", "sha256")

CONFIDENCES: Final = ("low", "medium", "high")

#: The 16 CISA critical-infrastructure sectors as kebab-case slugs. ``energy``, ``healthcare``
#: and ``financial-services`` are the vendor's own examples; ``finance`` appears once as well.
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
#: Slugs the vendor's pages show verbatim: a server must accept these.
DOCUMENTED_INDUSTRY_EXAMPLES: Final = ("energy", "healthcare", "financial-services")
INDUSTRY_ALIASES: Final = MappingProxyType({"finance": "financial-services"})

#: Query parameters of the Sigma endpoint; ``/api/v1/iocs`` adds ``category`` and ``offset``.
SIGMA_PARAMETERS: Final = ("type", "since", "confidence", "industry", "limit")
IOCS_EXTRA_PARAMETERS: Final = ("category", "offset")
DEFAULT_LIMIT: Final = 100

#: Response media types a conformant server may use for the YAML body.
YAML_MEDIA_TYPES: Final = ("application/yaml", "text/yaml", "application/x-yaml")
JSON_MEDIA_TYPE: Final = "application/json"

#: Error envelope: ``{"error": {"code", "message", "request_id", ["details"]}}``.
ENVELOPE_REQUIRED_KEYS: Final = ("code", "message", "request_id")
REQUEST_ID_PREFIX: Final = "req_"
AUTH_ERROR_CODES: Final = MappingProxyType(
    {
        "missing": "missing_api_key",
        "invalid": "invalid_api_key",
        "expired": "expired_api_key",
    }
)
RATE_LIMIT_CODE: Final = "rate_limit_exceeded"
#: Undocumented: the mock's choice for bad parameter values (required only with --strict).
INVALID_PARAMETER_CODE: Final = "invalid_parameter"

RATE_LIMIT_HEADERS: Final = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
API_KEY_PREFIX: Final = "sk_live_"


@dataclass(frozen=True)
class Tier:
    """A subscription tier's documented limits (the rate-limits page, docs/contract.md §3)."""

    name: str
    per_minute: int
    per_day: int
    max_results: int
    lookback_days: int


FREE: Final = Tier("free", per_minute=10, per_day=1_000, max_results=100, lookback_days=1)
PRO: Final = Tier("pro", per_minute=1_000, per_day=1_000_000, max_results=10_000, lookback_days=365)
#: The ``limit`` that asks for as much of the feed as a Pro key may get in one answer.
WHOLE_FEED_LIMIT: Final = str(PRO.max_results)


@dataclass(frozen=True)
class FieldMapping:
    """Where a documented IOC type's value must appear in its rule."""

    categories: tuple[str, ...]
    field: str


#: Documented logsource category and detection field per IOC type. The format page names the
#: DNS category ``dns``; the Sysmon category with the ``QueryName`` field is ``dns_query``:
#: both are accepted. ``cve`` and ``email`` are undocumented: any valid, compilable rule goes.
TYPE_MAPPINGS: Final = MappingProxyType(
    {
        "ipv4": FieldMapping(("network_connection",), "DestinationIp"),
        "ipv6": FieldMapping(("network_connection",), "DestinationIp"),
        "domain": FieldMapping(("dns", "dns_query"), "QueryName"),
        "url": FieldMapping(("proxy",), "c-uri"),
        "md5": FieldMapping(("process_creation",), "Hashes"),
        "sha1": FieldMapping(("process_creation",), "Hashes"),
        "sha256": FieldMapping(("process_creation",), "Hashes"),
    }
)

#: Rule fields: those pySigma needs, and those the vendor's sample documents.
REQUIRED_RULE_FIELDS: Final = ("title", "id", "logsource", "detection")
DOCUMENTED_RULE_FIELDS: Final = ("status", "description", "references", "author", "date", "level")

#: Sigma specification enumerations.
SIGMA_STATUSES: Final = ("stable", "test", "experimental", "deprecated", "unsupported")
SIGMA_LEVELS: Final = ("informational", "low", "medium", "high", "critical")
#: Characters with a wildcard or escape meaning in a Sigma string value.
SIGMA_SPECIAL_CHARS: Final = ("*", "?", "\\")

#: Compile targets: (backend, pipeline). Required ones fail the run; advisory ones only show
#: in the matrix unless named with ``--require-target``.
REQUIRED_TARGETS: Final = ("splunk+sysmon", "lucene+ecs_windows")
ADVISORY_TARGETS: Final = ("kusto+sentinel_asim", "qradar-aql-community+qradar-aql-fields")
DEFAULT_TARGETS: Final = REQUIRED_TARGETS + ADVISORY_TARGETS


def canonical_industry(slug: str) -> str:
    """Return the sector a documented industry slug (or alias) names."""
    return INDUSTRY_ALIASES.get(slug, slug)
