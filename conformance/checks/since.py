"""``since`` checks: monotonic, strictly "after", and an empty answer as an empty body.

A rule carries only the day its IOC was added (``date``), so strictness is judged at day
resolution from the rules alone, and to the second where ``/api/v1/iocs`` lists ``first_seen``.
The vendor's pages disagree on whether ``since`` means "added" or "added or updated": an IOC
first seen after ``since`` must always be present; one seen before is only required absent
when it was not updated since (otherwise the finding is a warning).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

from conformance import contract
from conformance.checks.filters import (
    Query,
    day_of,
    feed_days,
    filter_queries,
    full,
    require_subset,
)
from conformance.findings import Finding, SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import Fetched, IocKey, ListedIoc, failure, ioc_key
from conformance.strategies import format_since


@check("server")
def since_is_monotonic(ctx: ServerContext) -> None:
    """A later ``since`` never gives a rule that an earlier ``since`` does not."""
    from hypothesis import strategies as st

    def holds(case: tuple[Query, str, str]) -> None:
        query, one, two = case
        early, late = sorted((one, two), key=_moment)
        narrow = full(ctx, {**query, "since": late})
        # The drawn pair, and the day before the later since: a since misread only on some
        # days (a parity, a time zone, a month boundary) shows between neighbours, which
        # drawn pairs rarely are.
        day_before = format_since(_moment(late) - timedelta(days=1))
        for before in dict.fromkeys((early, day_before)):
            require_subset(narrow, full(ctx, {**query, "since": before}), f"since={late}")

    base = filter_queries(ctx).map(lambda q: {k: v for k, v in q.items() if k != "since"})
    since = filter_queries(ctx, required=("since",)).map(lambda q: q["since"])
    ctx.explore(st.tuples(base, since, since), holds)


@check("server")
def since_is_strict(ctx: ServerContext) -> Iterator[Finding]:
    """``since=S`` gives the IOCs added after S: at day resolution from ``date``, and exactly
    (an IOC added at S is out, at S minus a second is in) where ``/api/v1/iocs`` answers."""
    warnings: list[Finding] = []

    def holds(query: Query) -> None:
        since = query["since"]
        day = _moment(since).date()
        after, everything = (
            full(ctx, query),
            full(ctx, {k: v for k, v in query.items() if k != "since"}),
        )
        listed = _listed_by_key(ctx)
        for identity in after.identities:
            rule_day = day_of(identity.date if identity else None)
            if identity is None or rule_day is None or rule_day >= day:
                continue
            ioc = listed.get(ioc_key(identity.ioc_type or "", identity.value or ""))
            if ioc is not None and not _updated_after(ioc, since):
                # Neither reading of "after" keeps it: not added, nor updated, since then.
                raise failure(
                    f"since={since} returned rule {identity.id}, dated {rule_day}, for an IOC "
                    f"first seen {ioc.first_seen} and last seen {ioc.last_seen}: both before it",
                    curl=after.curl,
                    expected="only IOCs added (or, on one page's reading, updated) after since",
                    document=after.document_text(identity.id or ""),
                )
            if not warnings:
                warnings.append(
                    Finding(
                        "",
                        f"since={since} returned rule {identity.id} dated {rule_day}, before it "
                        "(allowed only if the IOC was updated since: a page says 'or updated')",
                        documented=False,
                    ).with_reproduction(
                        curl=after.curl, document=after.document_text(identity.id or "")
                    )
                )
        if everything.truncated(contract.PRO.max_results):
            return
        present = after.id_set()
        for identity in everything.identities:
            rule_day = day_of(identity.date if identity else None)
            if identity is None or rule_day is None or rule_day <= day:
                continue
            if identity.id not in present:
                raise failure(
                    f"since={since} left out rule {identity.id}, dated {rule_day} (after it)",
                    curl=after.curl,
                    expected=f"every rule of {everything.curl} dated after {day}",
                    document=everything.document_text(identity.id or ""),
                )

    ctx.explore(filter_queries(ctx, required=("since",)), holds)
    yield from warnings
    yield from _exact_boundary(ctx)


def _exact_boundary(ctx: ServerContext) -> Iterator[Finding]:
    """With ``first_seen`` from ``/api/v1/iocs``: excluded at ``since=first_seen``, included
    one second before (when the sibling answers; otherwise nothing to add)."""
    try:
        listing = ctx.iocs({"limit": contract.WHOLE_FEED_LIMIT})
    except SkipCheck:
        return
    candidates = [
        (i, seen)
        for i in listing.iocs
        if i.type in contract.SIGMA_TYPES and (seen := _first_seen_instant(i)) is not None
    ]
    if not candidates:
        return
    ioc, seen = ctx.rng("since-boundary").choice(candidates)
    key = ioc_key(ioc.type, ioc.value)
    before = format_since(datetime.fromtimestamp(math.ceil(seen.timestamp()) - 1, UTC))
    at = format_since(datetime.fromtimestamp(math.ceil(seen.timestamp()), UTC))
    included = full(ctx, {"type": ioc.type, "since": before})
    if key not in included.by_ioc():
        raise failure(
            f"the {ioc.type} IOC {ioc.value!r}, first seen {ioc.first_seen}, is missing from "
            f"since={before}",
            curl=included.curl,
            expected="its rule: it was added after since",
        )
    excluded = full(ctx, {"type": ioc.type, "since": at})
    if key in excluded.by_ioc():
        # Hold the server to the reading its own answer shows: with no IOC added before S in
        # it, it reads "added after S", and an IOC added exactly at S is not after S. Only an
        # answer that also holds IOCs added earlier (updated since) reads "or updated".
        listed = _listed_by_key(ctx)
        earlier = [
            k
            for k in excluded.by_ioc()
            if k != key and (other := listed.get(k)) is not None and _added_before(other, at)
        ]
        reading = "added or updated after" if earlier else "added after"
        yield Finding(
            "",
            f"the {ioc.type} IOC {ioc.value!r}, first seen {ioc.first_seen}, is present with "
            f"since={at} (its answer reads since as '{reading}'): 'after' is strict",
            expected="no rule for an IOC added at (not after) since",
            documented=not earlier or not _updated_after(ioc, at),
        ).with_reproduction(curl=excluded.curl, document=_doc(excluded, key))


def _first_seen_instant(ioc: ListedIoc) -> datetime | None:
    """The IOC's ``first_seen`` as an instant; None when it is missing, unreadable or only a
    day (read as midnight, a day would put the boundary hours before the IOC was added)."""
    text = ioc.first_seen or ""
    if _DAY_ONLY.fullmatch(text):
        return None
    try:
        return _moment(text)
    except ValueError:
        return None


_DAY_ONLY = re.compile(r"\d{4}-?\d\d-?\d\d")


def _added_before(ioc: ListedIoc, since: str) -> bool:
    try:
        return ioc.first_seen is not None and _moment(ioc.first_seen) < _moment(since)
    except ValueError:
        return False


#: The widest offsets ISO 8601 time zones use: written with them, a ``since`` whose offset a
#: server ignored lands half a day or more away from the instant meant.
_OFFSETS = (timedelta(hours=14), timedelta(hours=-12))


@check("server")
def since_with_an_offset_is_the_same_instant(ctx: ServerContext) -> Iterator[Finding]:
    """``since`` with a UTC offset (``...+02:00``, ISO 8601) is refused with a 400 or answered
    exactly as the same instant written in ``Z``."""
    days = feed_days(ctx)
    picks = sorted({days[len(days) // 4], days[len(days) // 2], days[(3 * len(days)) // 4]})
    for day in picks:
        instant = datetime.combine(day, datetime.min.time(), UTC)
        in_z = full(ctx, {"since": format_since(instant)})
        for offset in _OFFSETS:
            local = instant.astimezone(timezone(offset)).isoformat(timespec="seconds")
            query = {"since": local, "limit": contract.WHOLE_FEED_LIMIT}
            response = ctx.transport.get(contract.SIGMA_PATH, query, credentials=ctx.pro)
            if response.status == 400:
                continue  # allowed: the server refuses offsets outright
            if response.status != 200:
                raise failure(
                    f"since={local} got HTTP {response.status}",
                    curl=response.exchange.curl(),
                    received=f"HTTP {response.status}",
                    expected="200 (the same rules as the instant in Z) or a 400",
                )
            answered = Fetched.of(response)
            if answered.ids() != in_z.ids():
                extra = sorted(answered.id_set() - in_z.id_set())
                missing = sorted(in_z.id_set() - answered.id_set())
                yield Finding(
                    "",
                    f"since={local} and since={format_since(instant)} are one instant but get "
                    "different rules",
                    received=f"{answered.count()} rules: {len(extra)} extra, {len(missing)} "
                    "missing",
                    expected=f"the {in_z.count()} rules of {in_z.curl}",
                ).with_reproduction(curl=answered.curl)
                return


def _listed_by_key(ctx: ServerContext) -> dict[IocKey, ListedIoc]:
    """Every IOC ``/api/v1/iocs`` lists, by key; empty when the sibling is not usable."""
    try:
        listing = ctx.iocs({"limit": contract.WHOLE_FEED_LIMIT})
    except SkipCheck:
        return {}
    return {ioc_key(i.type, i.value): i for i in listing.iocs}


def _updated_after(ioc: ListedIoc, since: str) -> bool:
    """Whether the IOC was seen again after ``since`` (so an 'or updated' reading keeps it)."""
    if not ioc.last_seen:
        return True
    try:
        return _moment(ioc.last_seen) > _moment(since)
    except ValueError:
        return True


def _doc(fetched: Fetched, key: IocKey) -> str | None:
    identity = fetched.by_ioc().get(key)
    return fetched.document_text(identity.id or "") if identity else None


@check("server")
def empty_result_is_empty_body(ctx: ServerContext) -> None:
    """A query nothing matches gives 200 with no rules and no ``null`` document."""
    days = [day_of(i.date) for i in ctx.universe().identities if i is not None]
    known = [d for d in days if d is not None]
    if not known:
        raise SkipCheck("the feed has no dated rules, so no query is known to be empty")
    after_last = datetime.combine(max(known) + timedelta(days=2), datetime.min.time(), UTC)
    query = {"since": format_since(after_last), "type": "ipv4", "confidence": "low"}
    response = ctx.transport.get(contract.SIGMA_PATH, query, credentials=ctx.pro)
    curl = response.exchange.curl()
    if response.status != 200:
        raise failure(
            f"a query matching nothing got HTTP {response.status}",
            curl=curl,
            received=f"HTTP {response.status}",
            expected="200 with an empty body",
        )
    fetched = Fetched.of(response)
    documents = [d for d in fetched.rules.documents if not d.trailing]
    if any(d.data is None and d.error is None for d in documents):
        raise failure(
            "the empty answer holds a null YAML document",
            curl=curl,
            received=repr(response.body[:200]),
            expected="an empty body (zero documents)",
        )
    odd = [d for d in documents if d.mapping is None]
    if odd:
        raise failure(
            "the empty answer holds a document that is not a rule",
            curl=curl,
            received=odd[0].error or repr(odd[0].data)[:200],
            expected="an empty body (zero documents)",
            document=odd[0].text,
        )
    if documents:
        raise SkipCheck(
            f"the query meant to match nothing returned {len(documents)} document(s) "
            "(a live feed may have grown): nothing to judge"
        )


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
