"""Query-string parsing: raw request arguments in, a frozen :class:`Query` out, or a 400.

Pure: :func:`parse_query` either returns a Query or raises
:class:`~mockserver.errors.InvalidParameter`, never anything else. Unknown parameters are
ignored; a parameter given twice, empty, or with a value outside its domain is an error.
Tier clamping (``limit``, look-back) happens in the store, which knows the tier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from mockserver.errors import InvalidParameter
from mockserver.model import (
    CATEGORIES,
    CONFIDENCES,
    INDUSTRIES,
    INDUSTRY_ALIASES,
    IOC_TYPES,
    TYPE_ALIASES,
)

DEFAULT_LIMIT: Final = 100
#: Integers longer than this are rejected rather than clamped (no bignum work per request).
_MAX_DIGITS: Final = 18
_DIGITS = re.compile(r"\A[0-9]+\Z")
_SIGNED = re.compile(r"\A[+\-][0-9]+\Z")
_NUMBER = re.compile(r"\A[+\-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+\-]?[0-9]+)?\Z")
# Date, optional time (seconds and fraction optional), optional offset. A space before the
# offset is a "+" that arrived unencoded in the query string.
_INSTANT = re.compile(
    r"""\A(?P<date>\d{4}-\d{2}-\d{2})
    (?:[Tt\ ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?
       (?P<tz>[Zz]|[+\-\ ]\d{2}:?\d{2})?)?\Z""",
    re.VERBOSE | re.ASCII,
)

TYPE_VALUES: Final = IOC_TYPES + tuple(TYPE_ALIASES)
INDUSTRY_VALUES: Final = INDUSTRIES + tuple(INDUSTRY_ALIASES)
SINCE_FORMAT: Final = "ISO 8601: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z or ±HH:MM"


@dataclass(frozen=True, slots=True)
class Query:
    """The filters of one request, canonicalised (aliases resolved, ``since`` in UTC)."""

    type: str | None = None
    confidence: str | None = None
    industry: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    category: str | None = None


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name)
    if values is None or len(values) == 0:
        return None
    if len(values) > 1:
        raise InvalidParameter(name, "a single value", None, "given more than once")
    value = values[0]
    if value == "":
        raise InvalidParameter(name, _allowed(name), value, "empty")
    return value


def _allowed(name: str) -> object:
    return {
        "type": list(TYPE_VALUES),
        "confidence": list(CONFIDENCES),
        "industry": list(INDUSTRY_VALUES),
        "category": list(CATEGORIES),
        "since": SINCE_FORMAT,
        "limit": "a positive integer (clamped to the tier maximum)",
        "offset": "a non-negative integer",
    }[name]


def _choice(args: Mapping[str, Sequence[str]], name: str, values: Sequence[str]) -> str | None:
    raw = _single(args, name)
    if raw is None:
        return None
    if raw not in values:
        raise InvalidParameter(name, _allowed(name), raw, "not one of the allowed values")
    return raw


def _integer(args: Mapping[str, Sequence[str]], name: str, minimum: int) -> int | None:
    raw = _single(args, name)
    if raw is None:
        return None
    if not _DIGITS.match(raw):
        raise InvalidParameter(name, _allowed(name), raw, _not_a_count(raw, minimum))
    if len(raw.lstrip("0")) > _MAX_DIGITS:
        raise InvalidParameter(
            name, _allowed(name), raw, f"out of range: at most {_MAX_DIGITS} digits"
        )
    value = int(raw)
    if value < minimum:
        raise InvalidParameter(name, _allowed(name), raw, f"must be at least {minimum}")
    return value


def _not_a_count(raw: str, minimum: int) -> str:
    """Say what is wrong with a value that is not a plain run of digits."""
    if _SIGNED.match(raw):
        negative = raw[0] == "-" and raw.strip("-0") != ""
        return f"must be at least {minimum}" if negative else "must be digits only, no sign"
    if _NUMBER.match(raw):
        return "must be a whole number, in digits"
    return "not a number"


def parse_instant(raw: str) -> datetime:
    """Parse a ``since`` value into an aware UTC datetime, or raise ``ValueError``.

    Date-only means midnight UTC; a time without an offset is UTC; fractions beyond
    microseconds are truncated.
    """
    match = _INSTANT.match(raw)
    if match is None:
        raise ValueError("not an ISO 8601 date or date-time")
    year, month, day = (int(part) for part in match["date"].split("-"))
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    offset = timedelta(0)
    if match["tz"] and match["tz"] not in ("Z", "z"):
        sign = -1 if match["tz"][0] == "-" else 1
        digits = match["tz"][1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ValueError("UTC offset out of range")
        offset = sign * timedelta(hours=hours, minutes=minutes)
    local = datetime(
        year,
        month,
        day,
        int(match["h"] or 0),
        int(match["m"] or 0),
        int(match["s"] or 0),
        int(frac),
        tzinfo=timezone(offset),
    )
    return local.astimezone(UTC)


def parse_query(args: Mapping[str, Sequence[str]], *, json_endpoint: bool = False) -> Query:
    """Parse request arguments (each name → all its values) into a Query.

    ``json_endpoint`` adds the ``/api/v1/iocs`` parameters ``offset`` and ``category``.
    Raises InvalidParameter (400 ``invalid_parameter``) for any bad value.
    """
    ioc_type = _choice(args, "type", TYPE_VALUES)
    industry = _choice(args, "industry", INDUSTRY_VALUES)
    since: datetime | None = None
    raw_since = _single(args, "since")
    if raw_since is not None:
        try:
            since = parse_instant(raw_since)
        except (ValueError, OverflowError) as exc:
            raise InvalidParameter("since", SINCE_FORMAT, raw_since, str(exc)) from exc
    limit = _integer(args, "limit", 1)
    offset, category = 0, None
    if json_endpoint:
        offset = _integer(args, "offset", 0) or 0
        category = _choice(args, "category", CATEGORIES)
    return Query(
        type=TYPE_ALIASES.get(ioc_type, ioc_type) if ioc_type is not None else None,
        confidence=_choice(args, "confidence", CONFIDENCES),
        industry=INDUSTRY_ALIASES.get(industry, industry) if industry is not None else None,
        since=since,
        limit=limit if limit is not None else DEFAULT_LIMIT,
        offset=offset,
        category=category,
    )
