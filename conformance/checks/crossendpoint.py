"""Cross-endpoint check: the Sigma rules for filters F are exactly the IOCs ``/api/v1/iocs``
lists for F (where the JSON sibling answers for the key).

IOCs are matched by normalised ``(type, value)``. Every listed IOC of the nine Sigma types
must have its rule; rules are optional for the extra types (``mitre-attack``, ``sha512`` ...),
but a rule must never be for an IOC the list does not hold.
"""

from __future__ import annotations

from conformance import contract
from conformance.checks.filters import Query, filter_queries, full
from conformance.findings import SkipCheck
from conformance.registry import check
from conformance.server.context import ServerContext
from conformance.server.responses import failure


@check("server")
def sigma_rules_match_the_ioc_list(ctx: ServerContext) -> None:
    """For filters F, the Sigma rules are exactly the IOCs /api/v1/iocs lists for F."""
    ctx.iocs(
        {"limit": contract.WHOLE_FEED_LIMIT}
    )  # SkipCheck before any exploring when the sibling is absent
    judged = 0

    def holds(query: Query) -> None:
        nonlocal judged
        rules = full(ctx, query)
        listing = ctx.iocs({**query, "limit": contract.WHOLE_FEED_LIMIT})
        if rules.truncated(contract.PRO.max_results) or not listing.complete():
            return
        judged += 1
        listed = listing.keys()
        ruled = set(rules.by_ioc())
        missing = sorted(k for k in listed - ruled if k[0] in contract.SIGMA_TYPES)
        if missing:
            ioc_type, value = missing[0]
            raise failure(
                f"{len(missing)} listed IOC(s) have no Sigma rule, e.g. {ioc_type} {value!r}",
                curl=rules.curl,
                received=f"{rules.count()} rules",
                expected=f"a rule for every IOC of {listing.curl}",
            )
        extra = sorted(ruled - listed)
        if extra:
            ioc_type, value = extra[0]
            rule = rules.by_ioc()[extra[0]]
            raise failure(
                f"{len(extra)} rule(s) are for IOCs the list does not hold, e.g. "
                f"{ioc_type} {value!r}",
                curl=rules.curl,
                expected=f"only IOCs of {listing.curl}",
                document=rules.document_text(rule.id or ""),
            )

    ctx.explore(filter_queries(ctx), holds)
    if not judged:
        raise SkipCheck("every drawn query was cut by the limit or listed incompletely")
