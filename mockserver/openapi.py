"""The mock's OpenAPI 3.1 document, served at ``/openapi.json`` so OpenAPI tools can use it.

It is built from the mock's own enumerations (:mod:`mockserver.model`), so the document and
the query parser cannot drift apart: a new IOC type or sector shows up in both. It describes
what the mock does (docs/contract.md §5 choices included): the 400 ``invalid_parameter`` answer,
``limit`` clamped rather than refused above the tier maximum, and the fault answers (502,
503) a client may meet when faults are enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from mockserver.model import CATEGORIES, CONFIDENCES, INDUSTRIES, INDUSTRY_ALIASES, IOC_TYPES
from mockserver.model import TYPE_ALIASES as _TYPE_ALIASES

if TYPE_CHECKING:
    from flask import Flask

OPENAPI_PATH: Final = "/openapi.json"
SIGMA_PATH: Final = "/api/v1/iocs/sigma"
IOCS_PATH: Final = "/api/v1/iocs"
YAML_MEDIA_TYPES: Final = ("application/yaml",)
#: The largest integer the query parser reads (18 digits); longer values are a 400.
_MAX_INTEGER: Final = 10**18 - 1

_RATE_LIMIT_HEADERS: Final = {
    "X-RateLimit-Limit": "Requests allowed in the current window for this key.",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "When the window resets, in Unix seconds (UTC).",
}
_ERRORS: Final = {
    "400": ("Bad query parameter (`invalid_parameter`, details name it).", True),
    "401": ("Missing, invalid or expired API key.", False),
    "403": ("The key's tier does not include this endpoint (`insufficient_tier`).", True),
    "429": ("Rate limit exceeded (`rate_limit_exceeded`): wait for X-RateLimit-Reset.", True),
    "500": ("Unexpected server error (`internal_error`).", False),
    "502": ("Bad gateway (`bad_gateway`): only with the mock's faults enabled.", False),
    "503": ("Service unavailable (`service_unavailable`): only with faults enabled.", False),
}


def _rate_limit_headers() -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "integer", "minimum": 0}}
        for name, text in _RATE_LIMIT_HEADERS.items()
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _filter_parameters() -> list[dict[str, Any]]:
    """The filters both endpoints share (docs/contract.md §1)."""
    types = [*IOC_TYPES, *_TYPE_ALIASES]
    industries = [*INDUSTRIES, *INDUSTRY_ALIASES]
    return [
        _query("type", "One IOC type.", {"type": "string", "enum": types}),
        _query(
            "since",
            "Only IOCs added strictly after this instant (ISO 8601, `Z` or an offset; a date "
            "alone means midnight UTC), clamped to the tier's look-back window.",
            {"type": "string", "format": "date-time", "example": "2024-01-01T00:00:00Z"},
        ),
        _query("confidence", "Confidence level.", {"type": "string", "enum": list(CONFIDENCES)}),
        _query(
            "industry",
            "A CISA critical-infrastructure sector slug (`finance` is an alias of "
            "`financial-services`).",
            {"type": "string", "enum": industries},
        ),
        _query(
            "limit",
            "How many results: default 100; above the tier maximum (Free 100, Pro 10,000) "
            "it is clamped, not refused.",
            {"type": "integer", "minimum": 1, "maximum": _MAX_INTEGER, "default": 100},
        ),
    ]


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code in codes:
        text, limited = _ERRORS[code]
        response: dict[str, Any] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if limited:
            response["headers"] = _rate_limit_headers()
        responses[code] = response
    return responses


def _components() -> dict[str, Any]:
    string_list = {"type": "array", "items": {"type": "string"}}
    return {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "sk_live_... key"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "request_id"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "request_id": {"type": "string", "pattern": "^req_"},
                            "details": {"type": "object"},
                        },
                    }
                },
            },
            "IOC": {
                "type": "object",
                "required": ["id", "type", "value", "confidence", "first_seen", "source"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "type": {"type": "string", "enum": list(IOC_TYPES)},
                    "value": {"type": "string"},
                    "confidence": {"type": "string", "enum": list(CONFIDENCES)},
                    "first_seen": {"type": "string", "format": "date-time"},
                    "last_seen": {"type": "string", "format": "date-time"},
                    "source": {
                        "type": "object",
                        "required": ["feed_name", "category"],
                        "properties": {
                            "feed_name": {"type": "string"},
                            "category": {"type": "string", "enum": list(CATEGORIES)},
                        },
                    },
                    "context": {"type": "object", "additionalProperties": {"type": "string"}},
                    "tags": string_list,
                    "mitre_techniques": string_list,
                    "industries": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(INDUSTRIES)},
                    },
                },
            },
            "IOCList": {
                "type": "object",
                "required": ["meta", "data", "links"],
                "properties": {
                    "meta": {
                        "type": "object",
                        "required": ["total", "limit", "offset"],
                        "properties": {
                            "total": {"type": "integer", "minimum": 0},
                            "limit": {"type": "integer", "minimum": 0},
                            "offset": {"type": "integer", "minimum": 0},
                        },
                    },
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/IOC"}},
                    "links": {
                        "type": "object",
                        "required": ["self"],
                        "properties": {
                            "self": {"type": "string"},
                            "next": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
    }


def _sigma_operation() -> dict[str, Any]:
    yaml = {"schema": {"type": "string"}}
    return {
        "operationId": "getSigmaRules",
        "summary": "The filtered IOC feed as Sigma rules (Pro tier).",
        "description": "One rule per IOC, each a YAML document, separated by `---` lines; "
        "oldest first by time added, then id. No match is a 200 with an empty body.",
        "parameters": _filter_parameters(),
        "responses": {
            "200": {
                "description": "Multi-document Sigma YAML (possibly empty).",
                "headers": _rate_limit_headers(),
                "content": {media: yaml for media in YAML_MEDIA_TYPES},
            },
            **_errors(("400", "401", "403", "429", "500", "502", "503")),
        },
    }


def _iocs_operation() -> dict[str, Any]:
    extra = [
        _query("category", "Source category.", {"type": "string", "enum": list(CATEGORIES)}),
        _query(
            "offset",
            "Results to skip.",
            {"type": "integer", "minimum": 0, "maximum": _MAX_INTEGER, "default": 0},
        ),
    ]
    return {
        "operationId": "listIOCs",
        "summary": "The filtered IOC feed as JSON (Free and Pro tiers).",
        "parameters": [*_filter_parameters(), *extra],
        "responses": {
            "200": {
                "description": "A page of IOCs.",
                "headers": _rate_limit_headers(),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/IOCList"}}
                },
            },
            **_errors(("400", "401", "429", "500", "502", "503")),
        },
    }


def build_openapi(server_url: str | None = None) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the mock (a fresh dict each call)."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "SOC Defenders API (offline mock)",
            "version": "1.0.0",
            "description": "The IOC feed endpoints of the SOC Defenders API as this mock "
            "serves them. Demo keys: `soc-mock keys`.",
        },
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}, {"apiKeyQuery": []}],
        "paths": {
            SIGMA_PATH: {"get": _sigma_operation()},
            IOCS_PATH: {"get": _iocs_operation()},
        },
        "components": _components(),
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document


def register_openapi(app: Flask) -> None:
    """Add ``GET /openapi.json`` (no key needed) to a Flask app; a second call does nothing."""
    from flask import jsonify

    if "openapi_document" in app.view_functions:
        return

    def openapi_document() -> Any:
        """Serve the OpenAPI document."""
        return jsonify(build_openapi())

    app.add_url_rule(OPENAPI_PATH, "openapi_document", openapi_document, methods=["GET"])
