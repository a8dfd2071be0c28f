"""Query parsing: a Query or a 400 invalid_parameter, never anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.errors import InvalidParameter
from mockserver.model import CATEGORIES, CONFIDENCES, INDUSTRIES, IOC_TYPES
from mockserver.query import (
    DEFAULT_LIMIT,
    SINCE_FORMAT,
    TYPE_VALUES,
    Query,
    _allowed,
    parse_instant,
    parse_query,
)
from tests.keys import PRO_KEY
from tests.mockserver.mock_strategies import query_args


def one(**args: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in args.items()}


@given(query_args(json_endpoint=True), st.booleans())
@settings(max_examples=500)
def test_parsing_returns_a_query_or_raises_invalid_parameter(
    args: dict[str, list[str]], json_endpoint: bool
) -> None:
    error: InvalidParameter | None = None
    try:
        query = parse_query(args, json_endpoint=json_endpoint)
    except InvalidParameter as exc:
        error = exc
    if error is not None:
        assert error.status == 400
        assert error.code == "invalid_parameter"
        assert error.details is not None
        assert error.details["parameter"] in args
        assert "allowed" in error.details
        return
    assert isinstance(query, Query)
    assert query.type is None or query.type in IOC_TYPES
    assert query.confidence is None or query.confidence in CONFIDENCES
    assert query.industry is None or query.industry in INDUSTRIES
    assert query.category is None or query.category in CATEGORIES
    assert query.limit >= 1
    assert query.offset >= 0
    assert query.since is None or query.since.tzinfo is not None


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_since_round_trips_any_offset(instant: datetime, minutes: int) -> None:
    local = instant.astimezone(timezone(timedelta(minutes=minutes)))
    assert parse_instant(local.isoformat()) == instant
    assert parse_query(one(since=local.isoformat())).since == instant


def test_defaults_and_unknown_parameters() -> None:
    assert parse_query({}) == Query()
    assert parse_query(one(foo="bar", api_key="sk_live_x")) == Query(limit=DEFAULT_LIMIT)


def test_aliases_are_canonicalised() -> None:
    query = parse_query(one(type="mitre_attack", industry="finance"))
    assert (query.type, query.industry) == ("mitre-attack", "financial-services")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T02:30:00+02:30", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T02:30+0230", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T12:00:00", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("2024-01-01T12:00:00.1234567Z", datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        # An unencoded "+" arrives as a space.
        ("2024-01-01T02:00:00 02:00", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_since_formats(text: str, expected: datetime) -> None:
    assert parse_query(one(since=text)).since == expected


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (one(type="IPv4"), "type"),
        (one(type=""), "type"),
        ({"type": ["ipv4", "url"]}, "type"),
        (one(confidence="critical"), "confidence"),
        (one(industry="banking"), "industry"),
        (one(since="yesterday"), "since"),
        (one(since="2024-02-30"), "since"),
        (one(since="2024-01-01T24:00:00Z"), "since"),
        (one(since="2024-01-01T00:00:00+24:00"), "since"),
        (one(since="9999-12-31T23:59:59-14:00"), "since"),
        (one(since="0001-01-01T00:00:00+01:00"), "since"),
        (one(since="٢٠٢٤-01-01"), "since"),
        (one(limit="0"), "limit"),
        (one(limit="-5"), "limit"),
        (one(limit="ten"), "limit"),
        (one(limit="1e3"), "limit"),
        (one(limit=" 5"), "limit"),
        (one(limit="1" * 40), "limit"),
        (one(limit="٣"), "limit"),
    ],
)
def test_bad_values_are_400(args: dict[str, list[str]], parameter: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_query(args)
    assert caught.value.details is not None
    assert caught.value.details["parameter"] == parameter


def test_json_only_parameters() -> None:
    assert parse_query(one(offset="x", category="nope")) == Query()  # ignored on Sigma
    query = parse_query(one(offset="20", category="phishing"), json_endpoint=True)
    assert (query.offset, query.category) == (20, "phishing")
    with pytest.raises(InvalidParameter):
        parse_query(one(offset="-1"), json_endpoint=True)
    with pytest.raises(InvalidParameter):
        parse_query(one(category="nope"), json_endpoint=True)


def test_huge_limit_is_accepted_for_clamping() -> None:
    assert parse_query(one(limit="99999999")).limit == 99999999


def test_error_never_echoes_a_key() -> None:
    args: dict[str, Any] = one(type="sk_live_supersecretvalue1234")
    with pytest.raises(InvalidParameter) as caught:
        parse_query(args)
    assert "supersecret" not in str(caught.value.details)
    assert caught.value.details is not None
    assert caught.value.details["received"] == "sk_live_…1234"


@pytest.mark.parametrize(
    ("parameter", "raw", "reason"),
    [
        ("limit", "-1", "must be at least 1"),
        ("limit", "0", "must be at least 1"),
        ("offset", "-5", "must be at least 0"),
        ("limit", "+5", "must be digits only, no sign"),
        ("limit", "-0", "must be digits only, no sign"),
        ("limit", "2.5", "must be a whole number, in digits"),
        ("offset", "1e3", "must be a whole number, in digits"),
        ("limit", "ten", "not a number"),
        ("limit", "9" * 19, "out of range: at most 18 digits"),
    ],
)
def test_integer_errors_say_what_is_wrong(parameter: str, raw: str, reason: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_query({parameter: [raw]}, json_endpoint=True)
    assert caught.value.message == f"Invalid value for query parameter '{parameter}': {reason}."
    assert caught.value.details is not None
    assert caught.value.details["received"] == raw


def test_negative_limit_over_http_is_the_documented_400() -> None:
    from mockserver.app import create_app
    from mockserver.config import MockConfig

    client = create_app(MockConfig()).test_client()
    response = client.get(
        "/api/v1/iocs/sigma?limit=-1", headers={"Authorization": f"Bearer {PRO_KEY}"}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["message"] == "Invalid value for query parameter 'limit': must be at least 1."
    assert error["details"] == {
        "parameter": "limit",
        "allowed": "a positive integer (clamped to the tier maximum)",
        "received": "-1",
    }
    assert error["request_id"].startswith("req_")


def error_of(args: dict[str, list[str]], *, json_endpoint: bool = False) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        parse_query(args, json_endpoint=json_endpoint)
    return caught.value


@pytest.mark.parametrize(
    ("args", "details", "reason"),
    [
        (
            {"limit": ["1", "2"]},
            {"parameter": "limit", "allowed": "a single value"},
            "given more than once",
        ),
        (
            one(type=""),
            {"parameter": "type", "allowed": list(TYPE_VALUES), "received": ""},
            "empty",
        ),
        (
            one(confidence="critical"),
            {"parameter": "confidence", "allowed": list(CONFIDENCES), "received": "critical"},
            "not one of the allowed values",
        ),
        (
            one(limit="ten"),
            {
                "parameter": "limit",
                "allowed": "a positive integer (clamped to the tier maximum)",
                "received": "ten",
            },
            "not a number",
        ),
        (
            one(limit="1" * 19),
            {
                "parameter": "limit",
                "allowed": "a positive integer (clamped to the tier maximum)",
                "received": "1" * 19,
            },
            "out of range: at most 18 digits",
        ),
        (
            one(limit="0"),
            {
                "parameter": "limit",
                "allowed": "a positive integer (clamped to the tier maximum)",
                "received": "0",
            },
            "must be at least 1",
        ),
        (
            one(since="yesterday"),
            {"parameter": "since", "allowed": SINCE_FORMAT, "received": "yesterday"},
            "not an ISO 8601 date or date-time",
        ),
        (
            one(since="2024-01-01T00:00:00+01:60"),
            {
                "parameter": "since",
                "allowed": SINCE_FORMAT,
                "received": "2024-01-01T00:00:00+01:60",
            },
            "UTC offset out of range",
        ),
    ],
)
def test_error_details_and_reason_are_exact(
    args: dict[str, list[str]], details: dict[str, Any], reason: str
) -> None:
    """A client reads `details` to fix its request: every field is what the docs say."""
    error = error_of(args)
    assert error.details == details
    assert error.message == f"Invalid value for query parameter '{details['parameter']}': {reason}."


def test_offset_details_are_exact() -> None:
    error = error_of(one(offset="x"), json_endpoint=True)
    assert error.details == {
        "parameter": "offset",
        "allowed": "a non-negative integer",
        "received": "x",
    }


@pytest.mark.parametrize("parameter", ["limit", "offset"])
def test_integer_bounds(parameter: str) -> None:
    """18 significant digits are read (then clamped), 19 are refused; leading zeros are free."""
    lowest = {"limit": 1, "offset": 0}[parameter]
    parse = lambda raw: getattr(parse_query(one(**{parameter: raw}), json_endpoint=True), parameter)  # noqa: E731
    assert parse(str(lowest)) == lowest
    assert parse("9" * 18) == 10**18 - 1
    assert parse("0" * 30 + "7") == 7
    assert error_of(one(**{parameter: "1" + "0" * 18}), json_endpoint=True).details == {
        "parameter": parameter,
        "allowed": _allowed(parameter),
        "received": "1" + "0" * 18,
    }
    assert error_of(one(**{parameter: str(lowest - 1)}), json_endpoint=True)


def test_offset_defaults_to_zero() -> None:
    assert parse_query({}, json_endpoint=True).offset == 0
    assert parse_query(one(limit="1")).limit == 1


@given(st.sampled_from(IOC_TYPES), st.sampled_from(INDUSTRIES))
def test_canonical_values_pass_through_unchanged(ioc_type: str, industry: str) -> None:
    query = parse_query(one(type=ioc_type, industry=industry))
    assert (query.type, query.industry) == (ioc_type, industry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A lower-case z is as good as Z (RFC 3339 allows both).
        ("2024-01-01T00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
        # A short fraction is a fraction of a second, not a count of microseconds.
        ("2024-01-01T00:00:00.5Z", datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2024-01-01T00:00:00,05Z", datetime(2024, 1, 1, 0, 0, 0, 50000, tzinfo=UTC)),
        ("2024-01-01T00:00:00.000001Z", datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        ("2024-01-01T01:59:00+01:59", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T23:59:00+23:59", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2023-12-31T00:01:00-23:59", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_since_edges(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC  # UTC itself, not the machine's local zone


@pytest.mark.parametrize(
    "text", ["2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00-00:60", "2024-01-01T00:00+2400"]
)
def test_offsets_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="UTC offset out of range"):
        parse_instant(text)
