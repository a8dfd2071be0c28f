"""The IOC store: IOCs sorted by (added, id), indexed by type and confidence, rules on demand.

:meth:`IOCStore.select` is pure (a function of the query, "now" and the tier), so filters can
be property-tested without HTTP. Every (scope, confidence) pair has its own sorted run of
IOCs, so a query filtered on type and confidence only is two bisections and a slice; the
industry and category filters, rarer, still walk the window.

Rule texts and JSON records are computed on first use and kept (a 100,000-IOC fixture would
otherwise spend seconds at start-up on answers nobody may ask for). A whole body is cached
too, keyed by the slice of the index it was built from: "now" (which moves with a moving
clock) only enters through the slice's bounds, so a later clock gives another key, never a
stale body.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeAlias

from mockserver.model import IOC
from mockserver.query import Query
from mockserver.render import DOCUMENT_SEPARATOR, has_rule, render_rule

_SEPARATOR: Final = DOCUMENT_SEPARATOR.encode()
#: Index scopes besides the IOC types themselves.
_ALL: Final = "*all"
_SIGMA: Final = "*sigma"


class TierLimits(Protocol):
    """What :meth:`IOCStore.select` needs of a subscription tier (``mockserver.config.Tier``
    has it): passed in, so the pure store does not import the configuration layer."""

    @property
    def max_results(self) -> int:
        """The largest ``limit`` the tier gets."""
        ...

    @property
    def lookback_days(self) -> int:
        """How far back the tier sees the feed."""
        ...


#: Which index a page was sliced from and where: ``(scope, confidence, start, stop)``.
Span: TypeAlias = tuple[str, str | None, int, int]


class BodyCache:
    """A bounded LRU of response bodies keyed by :data:`Span` (locked: server threads share it).

    Bounded by entry count and by total bytes, so a client walking many distinct windows
    cannot grow it without limit; a body larger than the byte bound is not kept.
    """

    def __init__(self, max_entries: int = 64, max_bytes: int = 32 * 2**20) -> None:
        """An empty cache of at most ``max_entries`` bodies and ``max_bytes`` bytes."""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[Span, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of bodies held."""
        return len(self._bodies)

    def get(self, span: Span) -> bytes | None:
        """The body cached for ``span`` (now the most recently used), or None."""
        with self._lock:
            body = self._bodies.get(span)
            if body is not None:
                self._bodies.move_to_end(span)
            return body

    def put(self, span: Span, body: bytes) -> None:
        """Keep ``body`` for ``span``, evicting the least recently used beyond the bounds."""
        if len(body) > self.max_bytes or self.max_entries <= 0:
            return
        with self._lock:
            previous = self._bodies.pop(span, None)
            if previous is not None:
                self._size -= len(previous)
            self._bodies[span] = body
            self._size += len(body)
            while len(self._bodies) > self.max_entries or self._size > self.max_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted)


class Page(tuple[IOC, ...]):
    """A selected page of IOCs (a tuple) that remembers the index slice it came from.

    ``span`` is None when filters made the page out of a walk rather than one slice.
    """

    span: Span | None

    def __new__(cls, iocs: Iterable[IOC], span: Span | None = None) -> Page:
        """A page holding ``iocs``, cut from ``span`` when given."""
        page = super().__new__(cls, iocs)
        page.span = span
        return page


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
        self.added = tuple(ioc.added for ioc in self.iocs)

    def bounds(self, after: datetime | None, until: datetime) -> tuple[int, int]:
        """Positions of the IOCs added strictly after ``after`` and at or before ``until``."""
        start = bisect.bisect_right(self.added, after) if after is not None else 0
        return start, max(start, bisect.bisect_right(self.added, until))


_EMPTY: Final = _Index(())


class IOCStore:
    """All IOCs the mock serves, in feed order (oldest first by time added, then id)."""

    def __init__(self, iocs: Iterable[IOC], *, body_cache: BodyCache | None = None) -> None:
        """Sort and index ``iocs``; rules and records are rendered when first asked for."""
        ordered = sorted(iocs, key=lambda ioc: (ioc.added, ioc.id))
        runs: dict[tuple[str, str | None], list[IOC]] = {}
        for ioc in ordered:
            scopes = (_ALL, ioc.type, _SIGMA) if has_rule(ioc.type) else (_ALL, ioc.type)
            for scope in scopes:
                runs.setdefault((scope, None), []).append(ioc)
                runs.setdefault((scope, ioc.confidence), []).append(ioc)
        self._indexes = {key: _Index(run) for key, run in runs.items()}
        self._all = self._indexes.get((_ALL, None), _EMPTY)
        # Filled on demand. A dict store is atomic under the GIL and rendering is pure, so two
        # threads racing on one IOC both compute the same value: no lock is needed.
        self._rules: dict[str, bytes] = {}
        self._records: dict[str, dict[str, Any]] = {}
        self._bodies = body_cache if body_cache is not None else BodyCache()

    def __len__(self) -> int:
        """Number of IOCs held (whatever the clock)."""
        return len(self._all.iocs)

    @property
    def iocs(self) -> tuple[IOC, ...]:
        """Every IOC, in feed order."""
        return self._all.iocs

    def select(
        self, query: Query, *, now: datetime, tier: TierLimits, sigma_only: bool = False
    ) -> Selection:
        """Return the IOCs ``query`` selects at instant ``now`` for a key of ``tier``.

        ``since`` is strict and clamped to the tier's look-back (which applies without
        ``since`` too); IOCs added after ``now`` are not in the feed yet; ``limit`` is clamped
        to the tier maximum. ``sigma_only`` keeps the types that have rules.
        """
        if query.type is not None:
            # A type without rules has no Sigma answer: an empty scope.
            scope = query.type if not sigma_only or has_rule(query.type) else ""
        else:
            scope = _SIGMA if sigma_only else _ALL
        index = self._indexes.get((scope, query.confidence), _EMPTY)
        horizon = now - timedelta(days=tier.lookback_days)
        after = horizon if query.since is None or query.since < horizon else query.since
        limit = min(query.limit, tier.max_results)
        start, stop = index.bounds(after, now)
        end = query.offset + limit
        if query.industry is None and query.category is None:
            # Every IOC of the window matches: the page is one slice of the index.
            count = stop - start
            first, last = start + min(query.offset, count), start + min(end, count)
            span = (scope, query.confidence, first, last) if last > first else None
            page = Page(index.iocs[first:last], span)
            # The Sigma endpoint reports no total: it stops counting at a full page.
            total = min(count, end) if sigma_only else count
            return Selection(iocs=page, total=total, limit=limit, offset=query.offset)
        chosen: list[IOC] = []
        total = 0
        for position in range(start, stop):
            ioc = index.iocs[position]
            if query.industry is not None and query.industry not in ioc.industries:
                continue
            if query.category is not None and ioc.category != query.category:
                continue
            if query.offset <= total < end:
                chosen.append(ioc)
            total += 1
            if sigma_only and total >= end:
                break  # the Sigma endpoint reports no total: stop at a full page
        return Selection(iocs=Page(chosen), total=total, limit=limit, offset=query.offset)

    def rules_body(self, iocs: Iterable[IOC]) -> bytes:
        """Return the multi-document YAML body for ``iocs`` (empty when there are none).

        A page :meth:`select` cut as one slice is answered from the body cache when that
        slice was served before.
        """
        span = iocs.span if isinstance(iocs, Page) else None
        if span is None:
            return self._join(iocs)
        body = self._bodies.get(span)
        if body is None:
            body = self._join(iocs)
            self._bodies.put(span, body)
        return body

    def _join(self, iocs: Iterable[IOC]) -> bytes:
        rules = self._rules
        try:
            return _SEPARATOR.join([rules[ioc.id] for ioc in iocs])
        except KeyError:
            pass  # some rule not rendered yet: render the missing ones, then join
        return _SEPARATOR.join([self._rule(ioc) for ioc in iocs])

    def _rule(self, ioc: IOC) -> bytes:
        rule = self._rules.get(ioc.id)
        if rule is None:
            rule = self._rules[ioc.id] = render_rule(ioc).encode()
        return rule

    def rule_text(self, ioc: IOC) -> str:
        """Return the rule text of one IOC (rendered once, then cached)."""
        return self._rule(ioc).decode()

    def record(self, ioc: IOC) -> dict[str, Any]:
        """Return the JSON record of one IOC (built once, cached; a fresh shallow copy)."""
        record = self._records.get(ioc.id)
        if record is None:
            record = self._records[ioc.id] = ioc.to_json()
        return dict(record)
