"""Selection: filters, order, limit, since, look-back and the clock, as pure properties."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockserver.config import DEFAULT_TIERS, Tier
from mockserver.model import (
    CATEGORIES,
    CONFIDENCES,
    INDUSTRIES,
    IOC,
    IOC_TYPES,
)
from mockserver.query import Query
from mockserver.render import has_rule, render_rule
from mockserver.store import BodyCache, IOCStore
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


every_filter = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(IOC_TYPES),
        "confidence": st.sampled_from(CONFIDENCES),
        "industry": st.sampled_from(INDUSTRIES),
        "category": st.sampled_from(CATEGORIES),
    },
)


@given(
    datasets(),
    every_filter,
    st.one_of(st.none(), instants),
    instants,
    st.integers(0, 12),
    st.integers(1, 8),  # small pages, so that "stops at a full page" is exercised
    st.booleans(),
)
def test_select_agrees_with_a_plain_scan(
    iocs: list[IOC],
    f: dict[str, str],
    since: datetime | None,
    now: datetime,
    offset: int,
    limit: int,
    sigma_only: bool,
) -> None:
    """The indexed select (slices, or a walk when industry/category filter) against a scan."""
    if sigma_only:
        f.pop("category", None)
        offset = 0  # the Sigma endpoint has neither
    store = IOCStore(iocs)
    query = Query(**f, since=since, limit=limit, offset=offset)
    horizon = now - timedelta(days=PRO.lookback_days)
    after = since if since is not None and since > horizon else horizon
    matching = [
        i
        for i in sorted(iocs, key=lambda i: (i.added, i.id))
        if after < i.added <= now
        and (has_rule(i.type) or not sigma_only)
        and all(v in i.industries if k == "industry" else getattr(i, k) == v for k, v in f.items())
    ]
    got = store.select(query, now=now, tier=PRO, sigma_only=sigma_only)
    capped = min(limit, PRO.max_results)
    assert [i.id for i in got.iocs] == [i.id for i in matching[offset : offset + capped]]
    assert got.total == (min(len(matching), offset + capped) if sigma_only else len(matching))


@given(
    datasets(), st.lists(instants, min_size=1, max_size=6), st.sampled_from((None, "ipv4", "url"))
)
@settings(max_examples=60)
def test_cached_bodies_follow_a_moving_clock(
    iocs: list[IOC], nows: list[datetime], ioc_type: str | None
) -> None:
    """However "now" moves (forwards or back), each body is exactly that window's rules."""
    store = IOCStore(iocs)
    for now in nows + nows:  # the second pass answers from the cache
        # Pro's 365-day look-back moves both ends of the window with the clock.
        page = store.select(Query(type=ioc_type), now=now, tier=PRO, sigma_only=True).iocs
        horizon = now - timedelta(days=PRO.lookback_days)
        expected = "---\n".join(
            render_rule(i)
            for i in sorted(iocs, key=lambda i: (i.added, i.id))
            if horizon < i.added <= now and has_rule(i.type) and ioc_type in (None, i.type)
        )
        assert store.rules_body(page).decode() == expected


def test_cached_bodies_never_outlive_their_window() -> None:
    """A sliding 3-day window over one IOC a day: every window has 3 rules, each its own."""
    days = [NOW - timedelta(days=n) for n in range(12)]
    iocs = [
        IOC(
            type="ipv4" if n % 3 else "domain",
            value=f"203.0.113.{n}" if n % 3 else f"d{n}.example",
            confidence=CONFIDENCES[n % 2],
            added=day,
            last_seen=day,
            feed_name="test feed",
            category="c2",
        )
        for n, day in enumerate(days)
    ]
    store = IOCStore(iocs)
    narrow = replace(WIDE, lookback_days=3)
    for now in days[:9] + days[8::-1] + days[:9]:  # back, forth, and back: cache hits too
        for ioc_type in (None, "ipv4"):
            for confidence in (None, *CONFIDENCES[:2]):
                query = Query(type=ioc_type, confidence=confidence)
                page = store.select(query, now=now, tier=narrow, sigma_only=True).iocs
                expected = "---\n".join(
                    render_rule(i)
                    for i in reversed(iocs)
                    if now - timedelta(days=3) < i.added <= now
                    and ioc_type in (None, i.type)
                    and confidence in (None, i.confidence)
                )
                assert store.rules_body(page).decode() == expected


def test_body_cache_is_bounded_by_entries_and_bytes() -> None:
    cache = BodyCache(max_entries=2, max_bytes=10)
    cache.put(("a", None, 0, 1), b"1234")
    cache.put(("b", None, 0, 1), b"5678")
    assert cache.get(("a", None, 0, 1)) == b"1234"  # now the most recently used
    cache.put(("c", None, 0, 1), b"9")
    assert cache.get(("b", None, 0, 1)) is None  # the least recently used went
    assert len(cache) == 2
    cache.put(("d", None, 0, 1), b"abcdefgh")  # 4 + 1 + 8 bytes > 10: evict down to fit
    assert cache.get(("a", None, 0, 1)) is None
    assert cache.get(("d", None, 0, 1)) == b"abcdefgh"
    cache.put(("e", None, 0, 1), b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get(("e", None, 0, 1)) is None


@given(datasets(max_size=10))
@settings(max_examples=30)
def test_records_are_built_once_and_copied(iocs: list[IOC]) -> None:
    store = IOCStore(iocs)
    for ioc in iocs:
        first = store.record(ioc)
        assert first == ioc.to_json()
        first["value"] = "changed"
        assert store.record(ioc) == ioc.to_json()
        if has_rule(ioc.type):
            assert store.rule_text(ioc) == render_rule(ioc)


# Few industries and categories, so that an industry or category filter matches often and the
# walk's counting, offset paging and stop at a full page are checked, not only its misses.
FEW_INDUSTRIES = INDUSTRIES[:2]
FEW_CATEGORIES = CATEGORIES[:2]


@st.composite
def dense_datasets(draw: st.DrawFn) -> list[IOC]:
    """Up to 30 IOCs of a type with rules (ipv4) or without (sha512), over the last 30 days."""
    iocs = []
    for n in range(draw(st.integers(0, 30))):
        ioc_type = draw(st.sampled_from(("ipv4", "ipv4", "sha512")))
        added = NOW - timedelta(hours=draw(st.integers(-2, 24 * 30)))
        iocs.append(
            IOC(
                type=ioc_type,
                value=f"198.51.100.{n}" if ioc_type == "ipv4" else f"{n:0128x}",
                confidence=draw(st.sampled_from(CONFIDENCES[:2])),
                added=added,
                last_seen=added,
                feed_name="test feed",
                category=draw(st.sampled_from(FEW_CATEGORIES)),
                industries=tuple(draw(st.lists(st.sampled_from(FEW_INDUSTRIES), unique=True))),
            )
        )
    return iocs


dense_filters = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(("ipv4", "sha512")),
        "confidence": st.sampled_from(CONFIDENCES[:2]),
        "category": st.sampled_from(FEW_CATEGORIES),
    },
)


@given(
    dense_datasets(),
    st.sampled_from(FEW_INDUSTRIES) | st.none(),
    dense_filters,
    st.integers(0, 10),
    st.integers(1, 8),
    st.booleans(),
)
def test_the_walk_counts_pages_and_stops_like_a_scan(
    iocs: list[IOC],
    industry: str | None,
    f: dict[str, str],
    offset: int,
    limit: int,
    sigma_only: bool,
) -> None:
    """The industry/category walk, where most IOCs match: page, total and the early stop."""
    if industry is None and "category" not in f:
        f["category"] = FEW_CATEGORIES[0]  # always take the walk
    if sigma_only:
        offset = 0  # the Sigma endpoint has no offset
    store = IOCStore(iocs)
    query = Query(**f, industry=industry, limit=limit, offset=offset)
    matching = [
        i
        for i in sorted(iocs, key=lambda i: (i.added, i.id))
        if i.added <= NOW
        and (has_rule(i.type) or not sigma_only)
        and (industry is None or industry in i.industries)
        and all(getattr(i, k) == v for k, v in f.items())
    ]
    got = store.select(query, now=NOW, tier=PRO, sigma_only=sigma_only)
    assert [i.id for i in got.iocs] == [i.id for i in matching[offset : offset + limit]]
    assert got.total == (min(len(matching), offset + limit) if sigma_only else len(matching))
    assert (got.limit, got.offset) == (limit, offset)


@given(dense_datasets(), st.sampled_from(("sha512", "mitre-attack")), st.sampled_from(INDUSTRIES))
def test_types_without_rules_have_no_sigma_answer(
    iocs: list[IOC], ioc_type: str, industry: str
) -> None:
    store = IOCStore(iocs)
    for query in (Query(type=ioc_type), Query(type=ioc_type, industry=industry)):
        selection = store.select(query, now=NOW, tier=PRO, sigma_only=True)
        assert (selection.iocs, selection.total) == ((), 0)


def test_the_sigma_endpoint_stops_counting_at_a_full_page() -> None:
    days = [NOW - timedelta(days=n) for n in range(1, 8)]
    iocs = [
        IOC(
            type="ipv4",
            value=f"198.51.100.{n}",
            confidence="high",
            added=day,
            last_seen=day,
            feed_name="test feed",
            category="c2",
            industries=("energy",),
        )
        for n, day in enumerate(days)
    ]
    store = IOCStore(iocs)
    for query in (Query(limit=3), Query(limit=3, industry="energy")):
        sigma = store.select(query, now=NOW, tier=PRO, sigma_only=True)
        assert (len(sigma.iocs), sigma.total) == (3, 3)
        assert [i.id for i in sigma.iocs] == [i.id for i in reversed(iocs)][:3]
        assert store.select(query, now=NOW, tier=PRO).total == 7


spans = st.sampled_from([(name, None, 0, 1) for name in "abcde"])


@example(1, 10, [(True, ("a", None, 0, 1), b"x")])  # one entry allowed: kept
@example(2, 10, [(True, ("a", None, 0, 1), b"12345")] * 2 + [(True, ("b", None, 0, 1), b"67890")])
@settings(max_examples=300)  # cheap: no store, no rendering
@given(
    st.integers(0, 4),
    st.integers(0, 24),
    st.lists(
        st.tuples(st.booleans(), spans, st.integers(0, 30).map(lambda n: b"x" * n)),
        max_size=40,
    ),
)
def test_body_cache_agrees_with_a_plain_lru(
    max_entries: int, max_bytes: int, steps: list[tuple[bool, Any, bytes]]
) -> None:
    """Oversized, repeated and evicting puts, and gets, against a recount on every step."""
    cache = BodyCache(max_entries=max_entries, max_bytes=max_bytes)
    model: OrderedDict[Any, bytes] = OrderedDict()
    for is_put, span, body in steps:
        if is_put:
            cache.put(span, body)
            if len(body) <= max_bytes and max_entries > 0:
                model.pop(span, None)
                model[span] = body
                while len(model) > max_entries or sum(map(len, model.values())) > max_bytes:
                    model.popitem(last=False)
        else:
            assert cache.get(span) == model.get(span)
            if span in model:
                model.move_to_end(span)
        assert len(cache) == len(model)
        assert list(cache._bodies.items()) == list(model.items())  # contents and LRU order
        assert cache._size == sum(map(len, model.values()))


def test_an_oversized_body_evicts_nothing_and_a_full_size_one_everything() -> None:
    cache = BodyCache(max_entries=8, max_bytes=10)
    cache.put(("a", None, 0, 1), b"12345")
    cache.put(("b", None, 0, 1), b"x" * 11)
    assert cache.get(("a", None, 0, 1)) == b"12345"
    cache.put(("a", None, 0, 1), b"12345")  # a re-put replaces: still 5 bytes held
    cache.put(("c", None, 0, 1), b"67890")
    assert (cache.get(("a", None, 0, 1)), cache.get(("c", None, 0, 1))) == (b"12345", b"67890")
    cache.put(("d", None, 0, 1), b"y" * 10)  # exactly the bound: kept, alone
    assert len(cache) == 1
    assert cache.get(("d", None, 0, 1)) == b"y" * 10
    disabled = BodyCache(max_entries=0)
    disabled.put(("a", None, 0, 1), b"1")
    assert (len(disabled), disabled.get(("a", None, 0, 1))) == (0, None)


def test_each_rule_record_and_page_body_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's caches: a rule rendered once, a record built once, a page's body joined
    once (the same bytes object comes back for the same slice)."""
    import mockserver.store

    rendered: list[str] = []
    built: list[str] = []
    real_render, real_to_json = mockserver.store.render_rule, IOC.to_json

    def render(ioc: IOC) -> str:
        rendered.append(ioc.id)
        return real_render(ioc)

    def to_json(ioc: IOC) -> dict[str, Any]:
        built.append(ioc.id)
        return real_to_json(ioc)

    monkeypatch.setattr(mockserver.store, "render_rule", render)
    monkeypatch.setattr(IOC, "to_json", to_json)
    days = [NOW - timedelta(days=n) for n in range(1, 5)]
    iocs = [
        IOC(
            type="ipv4",
            value=f"198.51.100.{n}",
            confidence="high",
            added=day,
            last_seen=day,
            feed_name="test feed",
            category="c2",
        )
        for n, day in enumerate(days)
    ]
    store = IOCStore(iocs)
    page = store.select(Query(limit=3), now=NOW, tier=PRO, sigma_only=True).iocs
    first = store.rules_body(page)
    again = store.select(Query(limit=3), now=NOW, tier=PRO, sigma_only=True).iocs
    assert store.rules_body(again) is first
    assert store.rules_body(list(page)) == first  # not a Page: joined afresh, same text
    for ioc in iocs:
        assert store.rule_text(ioc) == store.rule_text(ioc) == real_render(ioc)
        assert store.record(ioc) == store.record(ioc)
    assert sorted(rendered) == sorted(i.id for i in iocs)
    assert sorted(built) == sorted(i.id for i in iocs)


def test_store_size_views_and_a_given_cache() -> None:
    iocs = [
        IOC(
            type="ipv4",
            value=f"198.51.100.{n}",
            confidence="high",
            added=NOW - timedelta(days=n + 1),
            last_seen=NOW,
            feed_name="test feed",
            category="c2",
        )
        for n in range(3)
    ]
    cache = BodyCache()
    assert (cache.max_entries, cache.max_bytes) == (64, 32 * 2**20)
    store = IOCStore(iocs, body_cache=cache)
    assert len(store) == 3
    assert [i.id for i in store.iocs] == [i.id for i in reversed(iocs)]
    page = store.select(Query(limit=2, offset=1), now=NOW, tier=PRO)
    assert (page.limit, page.offset, page.total) == (2, 1, 3)
    store.rules_body(page.iocs)
    assert len(cache) == 1  # the store used the cache it was given
    assert len(IOCStore([])) == 0
