"""The IOC store: IOCs sorted by (added, id), indexed by type, with each rule pre-rendered.

:meth:`IOCStore.select` is pure (a function of the query, "now" and the tier), so filters can
be property-tested without HTTP. Rule texts and JSON records are computed once per IOC when
the store is built: a 10,000-rule response is a join of cached bytes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mockserver.config import Tier
from mockserver.model import IOC
from mockserver.query import Query
from mockserver.render import DOCUMENT_SEPARATOR, has_rule, render_rule

_SEPARATOR = DOCUMENT_SEPARATOR.encode()


@dataclass(frozen=True, slots=True)
class Selection:
    """The page of IOCs a query selects, and how many matched in all (before limit/offset)."""

    iocs: tuple[IOC, ...]
    total: int
    limit: int
    offset: int


class _Index:
    """One ordered run of IOCs with their ``added`` instants, for bisecting on ``since``."""

    __slots__ = ("added", "iocs")

    def __init__(self, iocs: Sequence[IOC]) -> None:
        self.iocs = tuple(iocs)
        self.added = [ioc.added for ioc in self.iocs]

    def window(self, after: datetime | None, until: datetime) -> Iterator[IOC]:
        """IOCs added strictly after ``after`` and at or before ``until``, in order."""
        start = bisect.bisect_right(self.added, after) if after is not None else 0
        stop = bisect.bisect_right(self.added, until)
        for position in range(start, stop):
            yield self.iocs[position]


class IOCStore:
    """All IOCs the mock serves, in feed order (oldest first by time added, then id)."""

    def __init__(self, iocs: Iterable[IOC]) -> None:
        """Sort and index ``iocs``, and render each rule once."""
        ordered = sorted(iocs, key=lambda ioc: (ioc.added, ioc.id))
        self._all = _Index(ordered)
        self._sigma = _Index([ioc for ioc in ordered if has_rule(ioc.type)])
        self._by_type = {
            t: _Index([ioc for ioc in ordered if ioc.type == t]) for t in {i.type for i in ordered}
        }
        self._rules = {ioc.id: render_rule(ioc).encode() for ioc in self._sigma.iocs}
        self._records = {ioc.id: ioc.to_json() for ioc in ordered}

    def __len__(self) -> int:
        """Number of IOCs held (whatever the clock)."""
        return len(self._all.iocs)

    @property
    def iocs(self) -> tuple[IOC, ...]:
        """Every IOC, in feed order."""
        return self._all.iocs

    def select(
        self, query: Query, *, now: datetime, tier: Tier, sigma_only: bool = False
    ) -> Selection:
        """Return the IOCs ``query`` selects at instant ``now`` for a key of ``tier``.

        ``since`` is strict and clamped to the tier's look-back (which applies without
        ``since`` too); IOCs added after ``now`` are not in the feed yet; ``limit`` is clamped
        to the tier maximum. ``sigma_only`` keeps the types that have rules.
        """
        if query.type is not None:
            if sigma_only and not has_rule(query.type):
                index = _Index(())
            else:
                index = self._by_type.get(query.type, _Index(()))
        else:
            index = self._sigma if sigma_only else self._all
        horizon = now - timedelta(days=tier.lookback_days)
        after = horizon if query.since is None or query.since < horizon else query.since
        limit = min(query.limit, tier.max_results)
        page: list[IOC] = []
        total = 0
        end = query.offset + limit
        for ioc in index.window(after, now):
            if query.confidence is not None and ioc.confidence != query.confidence:
                continue
            if query.industry is not None and query.industry not in ioc.industries:
                continue
            if query.category is not None and ioc.category != query.category:
                continue
            if query.offset <= total < end:
                page.append(ioc)
            total += 1
            if sigma_only and total >= end:
                break  # the Sigma endpoint reports no total: stop at a full page
        return Selection(iocs=tuple(page), total=total, limit=limit, offset=query.offset)

    def rules_body(self, iocs: Iterable[IOC]) -> bytes:
        """Return the multi-document YAML body for ``iocs`` (empty when there are none)."""
        return _SEPARATOR.join(self._rules[ioc.id] for ioc in iocs)

    def rule_text(self, ioc: IOC) -> str:
        """Return the cached rule text of one IOC."""
        return self._rules[ioc.id].decode()

    def record(self, ioc: IOC) -> dict[str, Any]:
        """Return the cached JSON record of one IOC (a fresh shallow copy)."""
        return dict(self._records[ioc.id])
