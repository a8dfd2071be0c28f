"""Filter checks: relations between responses for Hypothesis-drawn filter combinations.

Every response is asked for with ``limit`` at the Pro maximum (unless ``limit`` is the subject),
so that "exactly this subset" can be judged; when a response may have been cut by the limit,
only the relations that survive truncation are checked.

Over 300 lines because its checks share the query drawing and the truncation rules above;
the ``since`` checks, which need more of their own, are :mod:`conformance.checks.since`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from conformance import contract
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import Fetched, failure

Query = dict[str, str]


def full(ctx: ServerContext, query: Mapping[str, str]) -> Fetched:
    """The response to ``query`` with the largest limit."""
    return ctx.sigma({**query, "limit": contract.WHOLE_FEED_LIMIT})


def require_subset(narrow: Fetched, wide: Fetched, narrowed_by: str) -> None:
    """Fail unless every rule of ``narrow`` is also in ``wide`` (skip a truncated ``wide``).

    The relation behind every "this filter narrows" property: ``narrowed_by`` says how
    ``narrow``'s query differs, e.g. ``industry=energy``.
    """
    if wide.truncated(contract.PRO.max_results):
        return
    extra = sorted(x for x in narrow.id_set() - wide.id_set() if x)
    if extra:
        raise failure(
            f"{narrowed_by} returned {len(extra)} rule(s) {wide.curl} lacks",
            curl=narrow.curl,
            received=f"e.g. {', '.join(extra[:3])}",
            expected=f"a subset of {wide.curl}",
            document=narrow.document_text(extra[0]),
        )


def feed_days(ctx: ServerContext) -> list[date]:
    """The distinct ``date`` values of the whole feed, sorted (SkipCheck when it has none)."""
    days = {day_of(i.date) for i in ctx.universe().identities if i is not None}
    known = sorted(d for d in days if d is not None)
    if not known:
        raise SkipCheck("the feed has no dated rules to filter")
    return known


def filter_queries(ctx: ServerContext, *, required: tuple[str, ...] = (), min_size: int = 0) -> Any:
    """Filter combinations (no ``limit``) with ``since`` on and around the feed's own days."""
    from hypothesis import strategies as st

    from conformance.strategies import confidences, industries, ioc_types, since_values

    days = feed_days(ctx)
    values: dict[str, Any] = {
        "type": ioc_types(),
        "confidence": confidences(),
        "industry": industries(documented_only=True),
        "since": since_values(days=days),
    }
    optional = [name for name in values if name not in required]
    names = st.lists(st.sampled_from(optional), unique=True, max_size=len(optional)).map(
        lambda chosen: (*required, *chosen)
    )
    if min_size:
        names = st.lists(
            st.sampled_from(optional), unique=True, min_size=min_size, max_size=len(optional)
        ).map(tuple)
    return names.flatmap(lambda chosen: st.fixed_dictionaries({n: values[n] for n in chosen}))


def day_of(text: str | None) -> date | None:
    """A rule's ``date`` as a day, or None when it is missing or not ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _without(query: Mapping[str, str], name: str) -> Query:
    return {k: v for k, v in query.items() if k != name}


def _exact_subset(
    ctx: ServerContext,
    query: Query,
    name: str,
    keep: Callable[[Any], bool],
    what: str,
    documented: bool = True,
) -> None:
    """R(query) must be exactly the rules of R(query without ``name``) that ``keep`` holds."""
    filtered, wider = full(ctx, query), full(ctx, _without(query, name))
    limit = contract.PRO.max_results
    for identity in filtered.identities:
        if identity is not None and not keep(identity):
            raise failure(
                f"{name}={query[name]} returned a rule whose {what}",
                curl=filtered.curl,
                document=filtered.document_text(identity.id or ""),
                received=f"rule {identity.id}: type {identity.ioc_type}, level {identity.level}",
                expected=f"only rules matching {name}={query[name]}",
                documented=documented,
            )
    if filtered.truncated(limit):
        return
    # A complete answer holds every matching rule, so also those of a wider answer that the
    # limit cut: only the filtered answer being cut leaves nothing to compare.
    expected = {i.id for i in wider.identities if i is not None and keep(i)}
    missing = sorted(x for x in expected - filtered.id_set() if x)
    if missing:
        raise failure(
            f"{name}={query[name]} left out {len(missing)} matching rule(s) that the same query "
            f"without {name} returns",
            curl=filtered.curl,
            received=f"{filtered.count()} rules; missing e.g. {', '.join(missing[:3])}",
            expected=f"every matching rule of {wider.curl}",
            document=wider.document_text(missing[0]),
            documented=documented,
        )


@check("server")
def type_filter_selects_only_its_type(ctx: ServerContext) -> None:
    """``type=T`` gives exactly the rules for IOCs of type T, combined with any other filter."""

    def holds(query: Query) -> None:
        wanted = query["type"]
        _exact_subset(ctx, query, "type", lambda i: i.ioc_type == wanted, "IOC is another type")

    for ioc_type in contract.SIGMA_TYPES:  # each type alone first: cheap, and none is missed
        holds({"type": ioc_type})
    ctx.explore(filter_queries(ctx, required=("type",)), holds)


@check("server")
def confidence_filter_selects_only_its_level(ctx: ServerContext) -> None:
    """``confidence=C`` gives exactly the rules with ``level: C`` (the vendor's sample rule,
    fetched with ``confidence=high``, has ``level: high``)."""

    def holds(query: Query) -> None:
        wanted = query["confidence"]
        _exact_subset(
            ctx,
            query,
            "confidence",
            lambda i: i.level == wanted,
            "level differs (the vendor's sample shows level equal to confidence)",
        )

    for confidence in contract.CONFIDENCES:
        holds({"confidence": confidence})
    ctx.explore(filter_queries(ctx, required=("confidence",)), holds)


@check("server")
def industry_filter_selects_a_subset(ctx: ServerContext) -> None:
    """``industry=I`` gives a subset of the same query without it, for every sector slug."""
    from hypothesis import strategies as st

    from conformance.strategies import industries

    def holds(pair: tuple[Query, str]) -> None:
        base, industry = pair
        documented = industry in contract.DOCUMENTED_INDUSTRY_EXAMPLES
        narrowed = ctx.sigma(
            {**base, "industry": industry, "limit": contract.WHOLE_FEED_LIMIT},
            documented=documented,
        )
        require_subset(narrowed, full(ctx, base), f"industry={industry}")

    strategy = st.tuples(filter_queries(ctx), industries(aliases=True))
    ctx.explore(strategy.map(lambda p: (_without(p[0], "industry"), p[1])), holds)


@check("server")
def combined_filters_give_the_intersection(ctx: ServerContext) -> None:
    """Filters A and B together give exactly the rules A gives that B gives too."""
    from hypothesis import strategies as st

    judged = 0

    def holds(case: tuple[Query, int]) -> None:
        nonlocal judged
        query, cut = case
        names = sorted(query)
        part_a = {n: query[n] for n in names[:cut]}
        part_b = {n: query[n] for n in names[cut:]}
        both, left, right = full(ctx, query), full(ctx, part_a), full(ctx, part_b)
        limit = contract.PRO.max_results
        if any(f.truncated(limit) for f in (both, left, right)):
            return
        judged += 1
        expected = left.id_set() & right.id_set()
        if both.id_set() != expected:
            extra = sorted(both.id_set() - expected)
            missing = sorted(expected - both.id_set())
            raise failure(
                "combined filters are not the intersection of each filter alone",
                curl=both.curl,
                received=f"{both.count()} rules; {len(extra)} unexpected, {len(missing)} missing",
                expected=f"the rules both of {left.curl} and of {right.curl}",
                document=both.document_text(extra[0]) if extra else None,
            )

    queries = filter_queries(ctx, min_size=2)
    cases = queries.flatmap(lambda q: st.tuples(st.just(q), st.integers(1, len(q) - 1)))
    ctx.explore(cases, holds)
    if not judged:
        raise SkipCheck("every drawn combination was cut by the limit")


@check("server")
def limit_caps_the_count(ctx: ServerContext) -> Iterator[Finding]:
    """``limit=N`` returns at most N rules (N when that many match: warning); default is 100."""
    from hypothesis import strategies as st

    warnings: list[Finding] = []

    def holds(case: tuple[Query, int | None]) -> None:
        query, limit = case
        asked = query if limit is None else {**query, "limit": str(limit)}
        capped, cap = ctx.sigma(asked), limit or contract.DEFAULT_LIMIT
        if capped.count() > cap:
            raise failure(
                f"{'limit=' + str(limit) if limit else 'no limit (default 100)'} returned "
                f"{capped.count()} rules",
                curl=capped.curl,
                expected=f"at most {cap} rules",
            )
        available = full(ctx, query).count()
        if capped.count() < min(cap, available) and not warnings:
            warnings.append(
                Finding(
                    "",
                    f"returned {capped.count()} rules although {available} match and the limit "
                    f"is {cap}",
                    expected=f"{min(cap, available)} rules",
                    documented=False,
                ).with_reproduction(curl=capped.curl)
            )

    limits = st.one_of(st.none(), st.integers(1, 60), st.sampled_from((1, 100, 101)))
    ctx.explore(st.tuples(filter_queries(ctx), limits), holds)
    yield from warnings


@check("server")
def limit_gives_a_prefix(ctx: ServerContext) -> None:
    """``limit=N`` gives the first N rules of the same query with a larger limit."""
    from hypothesis import strategies as st

    def holds(case: tuple[Query, int]) -> None:
        query, limit = case
        prefix = ctx.sigma({**query, "limit": str(limit)})
        longer = full(ctx, query)
        if prefix.ids() != longer.ids()[:limit]:
            raise failure(
                f"limit={limit} is not the first {limit} rules of the same query",
                curl=prefix.curl,
                received=f"ids {prefix.ids()[:5]}...",
                expected=f"ids {longer.ids()[:5]}... (the start of {longer.curl})",
            )

    ctx.explore(st.tuples(filter_queries(ctx), st.integers(1, 60)), holds)


#: Fewer IOCs than this, and a feed where every sector holds every IOC is not implausible.
INDUSTRY_MIN_FEED = 50
_SECTOR_NAMES = ("industr", "sector")


def _sectors_in(record: Any) -> set[str] | None:
    """The sector slugs a record names under any field (None when it names none).

    A field whose name says industry or sector counts even when empty (the record then names
    no sector); any other field counts when it is a list of known slugs.
    """
    found: set[str] | None = None
    if isinstance(record, dict):
        for name, value in record.items():
            named = any(word in str(name).lower() for word in _SECTOR_NAMES)
            slugs = _slugs(value) if named or isinstance(value, list) else None
            if slugs is not None and (named or slugs):
                found = (found or set()) | slugs
            elif isinstance(value, dict | list):
                inner = _sectors_in(value)
                if inner is not None:
                    found = (found or set()) | inner
    elif isinstance(record, list):
        for item in record:
            if isinstance(item, dict):
                inner = _sectors_in(item)
                if inner is not None:
                    found = (found or set()) | inner
    return found


def _slugs(value: Any) -> set[str] | None:
    """``value`` as a set of sector slugs (a slug, or a list of them), else None."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    slugs = {contract.canonical_industry(v.strip().lower()) for v in values}
    return slugs if slugs <= set(contract.INDUSTRIES) else None


def _sector_data(ctx: ServerContext, whole: Fetched) -> dict[Any, set[str]]:
    """Sector slugs per IOC key, from ``/api/v1/iocs`` records and from the rules themselves."""
    from conformance.server.responses import ioc_key

    sectors: dict[Any, set[str]] = {}
    for identity, doc in zip(
        whole.identities, [d for d in whole.rules.documents if not d.trailing], strict=False
    ):
        mapping = doc.mapping
        if identity is None or mapping is None or not identity.ioc_type or identity.value is None:
            continue
        named = _sectors_in({k: v for k, v in mapping.items() if k != "detection"})
        if named is not None:
            sectors[ioc_key(identity.ioc_type, identity.value)] = named
    try:
        listing = ctx.iocs({"limit": contract.WHOLE_FEED_LIMIT})
    except SkipCheck:
        return sectors
    try:
        records = json.loads(listing.response.body)["data"] if listing.response else []
    except (ValueError, KeyError, TypeError):
        return sectors
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        named = _sectors_in({k: v for k, v in record.items() if k != "value"})
        ioc_type, value = record.get("type"), record.get("value")
        if named is not None and isinstance(ioc_type, str) and isinstance(value, str):
            sectors[ioc_key(ioc_type, value)] = named
    return sectors


@check("server")
def industry_filter_narrows_the_feed(ctx: ServerContext) -> None:
    """``industry=I`` gives the IOCs of sector I: checked by membership where records name
    their sectors (under any field), else a feed of 50+ IOCs where all 16 sectors return
    everything shows the filter ignored."""
    whole = ctx.universe()
    if whole.truncated(contract.PRO.max_results):
        raise SkipCheck("the feed is larger than one answer can hold: no sector can be compared")
    sectors = _sector_data(ctx, whole)
    by_key = whole.by_ioc()
    answers = {}
    for industry in contract.INDUSTRIES:
        documented = industry in contract.DOCUMENTED_INDUSTRY_EXAMPLES
        answer = ctx.sigma(
            {"industry": industry, "limit": contract.WHOLE_FEED_LIMIT}, documented=documented
        )
        answers[industry] = answer
        if not sectors:
            continue
        for key, identity in answer.by_ioc().items():
            if key in sectors and industry not in sectors[key]:
                raise failure(
                    f"industry={industry} returned rule {identity.id} for an IOC whose record "
                    f"names the sectors {sorted(sectors[key]) or 'none'}",
                    curl=answer.curl,
                    expected=f"only IOCs of the {industry} sector",
                    document=answer.document_text(identity.id or ""),
                )
        got = answer.by_ioc()
        missing = [k for k in by_key if industry in sectors.get(k, set()) and k not in got]
        if missing:
            raise failure(
                f"industry={industry} left out {len(missing)} IOC(s) whose record names that "
                f"sector, e.g. {missing[0][0]} {missing[0][1]!r}",
                curl=answer.curl,
                expected=f"every IOC of {whole.curl} in the {industry} sector",
            )
    if sectors:
        return
    if whole.count() < INDUSTRY_MIN_FEED:
        raise SkipCheck(
            f"no record names its sectors and the feed has {whole.count()} rules (fewer than "
            f"{INDUSTRY_MIN_FEED}): an unfiltered answer per sector is not implausible"
        )
    everything = whole.id_set()
    if all(a.id_set() == everything for a in answers.values()):
        raise failure(
            f"every one of the {len(answers)} sectors returns the whole feed "
            f"({whole.count()} rules): industry= filters nothing",
            curl=answers[contract.INDUSTRIES[0]].curl,
            received=f"{whole.count()} rules for each industry",
            expected="each sector a subset: not every IOC concerns every sector",
        )
