"""Selection: filters, order, limit, since, look-back and the clock, as pure properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.config import DEFAULT_TIERS, Tier
from mockserver.model import CONFIDENCES, INDUSTRIES, IOC, IOC_TYPES
from mockserver.query import Query
from mockserver.render import has_rule
from mockserver.store import IOCStore
from tests.mockserver.mock_strategies import NOW, datasets

PRO, FREE = DEFAULT_TIERS
WIDE = replace(PRO, lookback_days=10_000, max_results=10**9)

filters = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(IOC_TYPES),
        "confidence": st.sampled_from(CONFIDENCES),
        "industry": st.sampled_from(INDUSTRIES),
    },
)
instants = st.integers(-5 * 86400, 420 * 86400).map(lambda s: NOW - timedelta(seconds=s))


def ids(store: IOCStore, query: Query, tier: Tier = WIDE, **kw: bool) -> list[str]:
    return [ioc.id for ioc in store.select(query, now=NOW, tier=tier, **kw).iocs]


def matches(ioc: IOC, f: dict[str, str]) -> bool:
    return all(
        (ioc.type == v)
        if k == "type"
        else (ioc.confidence == v)
        if k == "confidence"
        else (v in ioc.industries)
        for k, v in f.items()
    )


@given(datasets(), filters, st.booleans())
def test_selection_is_exactly_the_matching_iocs_in_feed_order(
    iocs: list[IOC], f: dict[str, str], sigma_only: bool
) -> None:
    store = IOCStore(iocs)
    expected = sorted(
        (
            i
            for i in iocs
            if matches(i, f) and i.added <= NOW and (has_rule(i.type) or not sigma_only)
        ),
        key=lambda i: (i.added, i.id),
    )
    assert ids(store, Query(**f, limit=10**6), sigma_only=sigma_only) == [i.id for i in expected]


@given(datasets(), filters, filters)
def test_filters_commute_and_intersect(
    iocs: list[IOC], a: dict[str, str], b: dict[str, str]
) -> None:
    store = IOCStore(iocs)
    by_id = {ioc.id: ioc for ioc in iocs}
    big = 10**6
    a_then_b = {i for i in ids(store, Query(**a, limit=big)) if matches(by_id[i], b)}
    b_then_a = {i for i in ids(store, Query(**b, limit=big)) if matches(by_id[i], a)}
    assert a_then_b == b_then_a
    if not set(a) & set(b):  # both filters in one query: the intersection
        assert set(ids(store, Query(**a, **b, limit=big))) == a_then_b


@given(datasets(), filters, st.integers(1, 50), st.integers(1, 50))
def test_limit_gives_a_prefix(iocs: list[IOC], f: dict[str, str], small: int, extra: int) -> None:
    store = IOCStore(iocs)
    short = ids(store, Query(**f, limit=small))
    long = ids(store, Query(**f, limit=small + extra))
    assert len(short) <= small
    assert long[: len(short)] == short


@given(datasets(), instants, instants)
def test_since_is_strict_and_monotonic(iocs: list[IOC], s1: datetime, s2: datetime) -> None:
    early, late = sorted((s1, s2))
    store = IOCStore(iocs)
    after_early = store.select(Query(since=early, limit=10**6), now=NOW, tier=WIDE).iocs
    after_late = ids(store, Query(since=late, limit=10**6))
    assert set(after_late) <= {i.id for i in after_early}
    assert all(i.added > early for i in after_early)
    # Strict: an IOC added exactly at `since` is excluded.
    for ioc in after_early:
        assert ioc.id not in ids(store, Query(since=ioc.added, limit=10**6))


@given(datasets(), instants)
def test_clock_hides_future_iocs(iocs: list[IOC], now: datetime) -> None:
    store = IOCStore(iocs)
    selected = store.select(Query(limit=10**6), now=now, tier=WIDE).iocs
    assert {i.id for i in selected} == {i.id for i in iocs if i.added <= now}


@given(datasets(), st.one_of(st.none(), instants))
def test_lookback_clamps_since(iocs: list[IOC], since: datetime | None) -> None:
    store = IOCStore(iocs)
    for tier in (PRO, FREE):
        horizon = NOW - timedelta(days=tier.lookback_days)
        got = store.select(Query(since=since, limit=100), now=NOW, tier=tier).iocs
        assert all(i.added > horizon for i in got)
        assert all(since is None or i.added > since for i in got)


@given(datasets(max_size=60), st.integers(1, 10**6))
@settings(max_examples=50)
def test_limit_is_clamped_to_the_tier(iocs: list[IOC], limit: int) -> None:
    store = IOCStore(iocs)
    tiny = replace(WIDE, max_results=3)
    selection = store.select(Query(limit=limit), now=NOW, tier=tiny)
    assert len(selection.iocs) <= 3
    assert selection.limit == min(limit, 3)


@given(datasets(), st.integers(0, 50), st.integers(1, 20))
def test_offset_pages_tile_the_selection(iocs: list[IOC], offset: int, limit: int) -> None:
    store = IOCStore(iocs)
    everything = ids(store, Query(limit=10**6))
    page = store.select(Query(limit=limit, offset=offset), now=NOW, tier=WIDE)
    assert [i.id for i in page.iocs] == everything[offset : offset + limit]
    assert page.total == len(everything)


def test_rules_body_joins_cached_documents() -> None:
    from mockserver.fixtures import load_dataset

    store = IOCStore(load_dataset().iocs)
    assert store.rules_body([]) == b""
    chosen = store.select(Query(type="url", limit=3), now=NOW, tier=PRO, sigma_only=True).iocs
    body = store.rules_body(chosen).decode()
    assert body == "---\n".join(store.rule_text(i) for i in chosen)
    assert body.count("\ntitle: ") == 2
