"""Stability checks: the same question gets the same answer, and an IOC keeps its rule id.

The vendor documents rule ids as derived from the IOC's type and value, so an id must not
change between calls or with the filters; identical calls must give identical results (the
order of rules itself is not documented, only that it is stable).
"""

from __future__ import annotations

from conformance import contract
from conformance.checks.filters import Query, filter_queries, full
from conformance.findings import SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import Fetched, failure


@check("server")
def identical_calls_give_identical_results(ctx: ServerContext) -> None:
    """The same query, asked twice, gives the same rules in the same order."""
    from hypothesis import strategies as st

    def holds(case: tuple[Query, int | None]) -> None:
        query, limit = case
        asked = query if limit is None else {**query, "limit": str(limit)}
        first = ctx.sigma(asked)
        again = ctx.sigma(asked, fresh=True)
        if first.ids() != again.ids():
            raise failure(
                "the same query gave different rules (or another order) on a second call",
                curl=again.curl,
                received=f"{again.count()} rules, ids {again.ids()[:3]}...",
                expected=f"{first.count()} rules, ids {first.ids()[:3]}...",
            )
        docs_first = [d.data for d in first.rules.documents]
        docs_again = [d.data for d in again.rules.documents]
        changed = [
            i for i, (a, b) in enumerate(zip(docs_first, docs_again, strict=False)) if a != b
        ]
        if changed:
            index = changed[0]
            raise failure(
                f"the same query gave a different rule at position {index} on a second call",
                curl=again.curl,
                document=again.rules.documents[index].text,
                expected=first.rules.documents[index].text,
            )

    limits = st.one_of(st.none(), st.integers(1, 200))
    ctx.explore(st.tuples(filter_queries(ctx), limits), holds)


def _id_changes(reference: Fetched, other: Fetched) -> list[tuple[str, str | None, str | None]]:
    """``(ioc, reference id, other id)`` for every IOC both hold under different ids."""
    ours = reference.by_ioc()
    return [
        (f"{key[0]} {key[1]!r}", ours[key].id, identity.id)
        for key, identity in other.by_ioc().items()
        if key in ours and ours[key].id != identity.id
    ]


@check("server")
def rule_ids_are_stable_across_calls(ctx: ServerContext) -> None:
    """Every IOC's rule keeps its id when the whole feed is fetched again."""
    first = ctx.universe()
    if not first.by_ioc():
        raise SkipCheck("the feed has no rule whose IOC could be read")
    again = ctx.sigma({"limit": contract.WHOLE_FEED_LIMIT}, fresh=True)
    changes = _id_changes(first, again)
    if changes:
        ioc, before, after = changes[0]
        raise failure(
            f"{len(changes)} rule id(s) changed between two calls, e.g. {ioc}: {before} -> {after}",
            curl=again.curl,
            expected="ids derived from the IOC's type and value: the same on every call",
            document=again.document_text(after or ""),
        )


@check("server")
def rule_ids_are_stable_across_filters(ctx: ServerContext) -> None:
    """An IOC's rule has the same id whatever the filters (and one id names one IOC)."""
    from hypothesis import strategies as st

    everything = ctx.universe()
    if not everything.by_ioc():
        raise SkipCheck("the feed has no rule whose IOC could be read")

    def holds(case: tuple[Query, int | None]) -> None:
        query, limit = case
        filtered = full(ctx, query) if limit is None else ctx.sigma({**query, "limit": str(limit)})
        changes = _id_changes(everything, filtered)
        if changes:
            ioc, before, after = changes[0]
            raise failure(
                f"{ioc} has id {after} under these filters but {before} without them",
                curl=filtered.curl,
                expected=f"the id it has in {everything.curl}",
                document=filtered.document_text(after or ""),
            )
        owners: dict[str, tuple[str, str]] = {}
        for key, identity in filtered.by_ioc().items():
            if identity.id is None:
                continue
            other = owners.setdefault(identity.id, key)
            if other != key:
                raise failure(
                    f"id {identity.id} names two IOCs: {other} and {key}",
                    curl=filtered.curl,
                    document=filtered.document_text(identity.id),
                )

    limits = st.one_of(st.none(), st.integers(1, contract.DEFAULT_LIMIT))
    ctx.explore(st.tuples(filter_queries(ctx), limits), holds)
