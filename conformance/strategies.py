"""Hypothesis strategies for the SOC Defenders Sigma endpoint's queries, importable by users.

Each strategy is a noun-named function with keyword-only options, validated when it is
called (not when it is drawn from), and builds valid data directly rather than filtering.
A query is a ``dict[str, str]`` of query parameters, ready for ``requests``::

    from hypothesis import given
    from conformance.strategies import sigma_queries

    @given(sigma_queries(types=("ipv4", "domain")))
    def test_my_client(query): ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from conformance import contract

#: Parameters a generated valid query may carry.
FILTER_PARAMETERS = ("type", "confidence", "industry", "since", "limit")
_EPOCH_FLOOR = datetime(2000, 1, 1, tzinfo=UTC)


def ioc_types(*, extra: bool = False) -> st.SearchStrategy[str]:
    """Documented IOC types: the nine Sigma types, plus the extra spellings if ``extra``."""
    _require_bool("extra", extra)
    return st.sampled_from(contract.ALL_TYPES if extra else contract.SIGMA_TYPES)


def confidences() -> st.SearchStrategy[str]:
    """The documented confidence levels."""
    return st.sampled_from(contract.CONFIDENCES)


def industries(*, documented_only: bool = False, aliases: bool = False) -> st.SearchStrategy[str]:
    """Industry slugs: the 16 CISA sectors, or only the vendor's own examples.

    ``aliases`` adds ``finance`` (shown once by the vendor for ``financial-services``).
    """
    _require_bool("documented_only", documented_only)
    _require_bool("aliases", aliases)
    slugs = list(contract.DOCUMENTED_INDUSTRY_EXAMPLES if documented_only else contract.INDUSTRIES)
    if aliases:
        slugs += list(contract.INDUSTRY_ALIASES)
    return st.sampled_from(slugs)


def since_values(
    *,
    min_value: datetime | None = None,
    max_value: datetime | None = None,
    now: datetime | None = None,
    days: Sequence[date] | None = None,
    whole_seconds: bool = True,
) -> st.SearchStrategy[str]:
    """ISO 8601 ``since`` timestamps in the documented ``YYYY-MM-DDTHH:MM:SSZ`` form.

    By default they fall inside the Pro look-back window (365 days before ``now``, which
    defaults to the time the strategy is built). With ``days`` (e.g. the dates of a feed's
    rules) they fall on or next to those days, spread over them evenly, at any time of day
    (midnight and the last second included, where day-resolution bugs live).
    """
    _require_bool("whole_seconds", whole_seconds)
    for name, value in (("min_value", min_value), ("max_value", max_value), ("now", now)):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise InvalidArgument(f"{name}={value!r} must be a timezone-aware datetime")
    if days is not None:
        if isinstance(days, str) or not days or not all(isinstance(d, date) for d in days):
            raise InvalidArgument(f"days={days!r} must be a non-empty sequence of dates")
        choices = sorted(set(days))
        seconds = st.one_of(st.sampled_from((0, 86_399)), st.integers(0, 86_399))
        return st.builds(
            lambda day, shift, second: format_since(
                datetime.combine(day, datetime.min.time(), UTC)
                + timedelta(days=shift, seconds=second)
            ),
            st.sampled_from(choices),
            st.sampled_from((0, 0, 0, -1, 1)),
            seconds,
        )
    end = max_value or now or datetime.now(UTC)
    start = min_value or end - timedelta(days=contract.PRO.lookback_days)
    if start > end:
        raise InvalidArgument(f"min_value={start} is after max_value={end}")
    span = int((end - start).total_seconds())
    if whole_seconds:
        return st.integers(0, span).map(lambda s: format_since(start + timedelta(seconds=s)))
    return st.floats(0, span, allow_nan=False).map(
        lambda s: format_since(start + timedelta(seconds=s))
    )


def limits(
    *, min_value: int = 1, max_value: int = contract.PRO.max_results
) -> st.SearchStrategy[int]:
    """Valid ``limit`` values (1 to the Pro maximum by default)."""
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgument(f"{name}={value!r} must be a positive integer")
    if min_value > max_value:
        raise InvalidArgument(f"min_value={min_value} is above max_value={max_value}")
    return st.integers(min_value, max_value)


def sigma_queries(
    *,
    valid: bool = True,
    types: Sequence[str] = contract.SIGMA_TYPES,
    include_since: bool = True,
    include_limit: bool = True,
    include_industry: bool = True,
    max_limit: int = contract.PRO.max_results,
    now: datetime | None = None,
) -> st.SearchStrategy[dict[str, str]]:
    """Query parameters for ``GET /api/v1/iocs/sigma``.

    ``valid=True`` draws any combination of documented filters with valid values;
    ``valid=False`` draws such a combination with at least one parameter given a value the
    contract does not allow (a server must answer it without a 5xx).
    """
    _require_bool("valid", valid)
    for name, flag in (
        ("include_since", include_since),
        ("include_limit", include_limit),
        ("include_industry", include_industry),
    ):
        _require_bool(name, flag)
    unknown = sorted(set(types) - set(contract.ALL_TYPES))
    if isinstance(types, str) or not types or unknown:
        raise InvalidArgument(
            f"types={types!r} must be a non-empty sequence of documented types "
            f"({', '.join(contract.ALL_TYPES)})"
        )
    optional: dict[str, st.SearchStrategy[str]] = {
        "type": st.sampled_from(tuple(types)),
        "confidence": confidences(),
    }
    if include_industry:
        optional["industry"] = industries()
    if include_since:
        optional["since"] = since_values(now=now)
    if include_limit:
        optional["limit"] = limits(max_value=max_limit).map(str)
    valid_queries = st.fixed_dictionaries({}, optional=optional)
    if valid:
        return valid_queries
    return st.builds(_with_bad_value, valid_queries, invalid_parameter_values())


def invalid_parameter_values(
    *, parameters: Sequence[str] = contract.SIGMA_PARAMETERS
) -> st.SearchStrategy[tuple[str, str]]:
    """``(parameter, value)`` pairs the contract does not allow for that parameter."""
    unknown = sorted(set(parameters) - set(contract.SIGMA_PARAMETERS))
    if isinstance(parameters, str) or not parameters or unknown:
        raise InvalidArgument(
            f"parameters={parameters!r} must name Sigma parameters "
            f"({', '.join(contract.SIGMA_PARAMETERS)})"
        )
    builders = {
        "type": _bad_words(contract.ALL_TYPES, ("ipv5", "IPV4 ", "hash", "sha-256")),
        "confidence": _bad_words(contract.CONFIDENCES, ("critical", "HIGHEST", "0.9", "none")),
        "industry": _bad_words(
            contract.INDUSTRIES + tuple(contract.INDUSTRY_ALIASES), ("space", "Energy Sector")
        ),
        "since": st.sampled_from(
            ("yesterday", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z", "0000-00-00", "-1")
        ),
        "limit": st.one_of(
            st.integers(max_value=0).map(str),
            st.sampled_from(("ten", "1.5", "1e3", "0x10", "-")),
        ),
    }
    return st.one_of(*(st.tuples(st.just(p), builders[p]) for p in parameters))


def format_since(moment: datetime) -> str:
    """A datetime in the documented ``since`` form (UTC, ``Z``), with fractions if any."""
    moment = moment.astimezone(UTC)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _with_bad_value(query: dict[str, str], bad: tuple[str, str]) -> dict[str, str]:
    name, value = bad
    return {**query, name: value}


def _bad_words(allowed: Sequence[str], seeds: Sequence[str]) -> st.SearchStrategy[str]:
    """Strings that are not an allowed value: fixed near-misses or random junk, mapped away."""
    allowed_set = set(allowed)
    junk = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20
    ).map(lambda s: s if s not in allowed_set else s + "-x")  # build, don't filter
    return st.one_of(st.sampled_from(tuple(seeds)), junk)


def _require_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be a bool")


@contextlib.contextmanager
def repeatable_draws() -> Iterator[None]:
    """Draw, inside the block, values that depend on the seed alone.

    Hypothesis now and then draws a constant harvested from the source of every non-library
    module the process has imported, so the same ``@seed`` gives other values once another
    module is loaded (a user's conftest, a plugin, an earlier check). A conformance run promises
    that ``--seed N`` repeats it, so that pool is emptied while the run draws; the constants
    Hypothesis ships with still apply. Outside Hypothesis versions with that pool: no effect.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without that module
        yield
        return
    local = getattr(providers, "_get_local_constants", None)
    empty = getattr(providers, "Constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if local is None or empty is None or cache is None:  # pragma: no cover - other versions
        yield
        return
    providers._get_local_constants = empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = local
        cache.cache.clear()
