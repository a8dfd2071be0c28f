"""Two answers to one query → the ways they differ, as findings of named diff checks. Pure.

Rules are paired by id, then (where ids differ) by the IOC their detection matches; a pair is
compared field by field on the parsed rule (every top-level key but ``id``: title, logsource,
detection, tags, level, date, ...). Status, error code, media type and the *semantics* of the
``X-RateLimit-*`` headers (is Reset Unix seconds, milliseconds or a delay; is Remaining within
Limit; what Limit is) are compared too; their values move with time and are not.

Over 300 lines: each difference it names has its own small comparison; they share the rule
pairing, which is why they stay in one module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from conformance import contract
from conformance.findings import Finding, Reproduction
from conformance.rules.indicators import RuleIdentity
from conformance.server.responses import Fetched, IocKey, error_code, ioc_key
from conformance.server.transport import Response

#: The diff checks: name → what a finding of it means.
CHECKS: dict[str, str] = {
    "status_is_the_same": "Both sides answer the query with the same HTTP status.",
    "error_code_is_the_same": "Both sides' error envelopes carry the same error.code.",
    "media_type_is_the_same": "Both sides answer with the same media type.",
    "rate_limit_semantics_are_the_same": (
        "X-RateLimit-* mean the same on both sides: Limit, Remaining within Limit, Reset's unit."
    ),
    "no_rules_only_in_a": "Every rule A returns for the query, B returns too (by id or IOC).",
    "no_rules_only_in_b": "Every rule B returns for the query, A returns too (by id or IOC).",
    "same_ioc_has_the_same_id": "A rule for the same IOC has the same id on both sides.",
    "same_rule_has_the_same_content": (
        "A rule both sides return has the same content, field by field (all but id)."
    ),
}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_SHOWN_RULES = 5


@dataclass(frozen=True)
class Answer:
    """One side's answer to a query: a response, or why there was none."""

    label: str  # "A" or "B"
    curl: str
    response: Response | None = None
    failure: str | None = None

    def status(self) -> str:
        """The status, or the reason there is none."""
        return (
            str(self.response.status)
            if self.response is not None
            else f"no response ({self.failure})"
        )


@dataclass(frozen=True)
class Difference:
    """A finding and what makes it the same difference as one seen in another query."""

    finding: Finding
    signature: tuple[Any, ...]
    rule: str | None = None  # the rule concerned, to count rules as well as queries


def _finding(check: str, message: str, a: Answer, b: Answer, va: str, vb: str) -> Finding:
    return Finding(
        check,
        message,
        received=f"A: {va}",
        expected=f"B: {vb}",
        reproduction=Reproduction(curl=a.curl, curl_b=b.curl),
    )


def reset_unit(raw: str | None) -> str:
    """What an ``X-RateLimit-Reset`` value is, by its size: the unit, not the instant."""
    if raw is None:
        return "absent"
    try:
        value = int(raw.strip())
    except ValueError:
        return f"not an integer ({raw[:20]!r})"
    if value > 100_000_000_000:
        return "Unix milliseconds"
    if value >= 1_000_000_000:
        return "Unix seconds"
    return "seconds from now" if value >= 0 else "negative"


def rate_semantics(response: Response) -> dict[str, str]:
    """Header → its meaning in this response."""
    raw = {name: response.header(name) for name in RATE_HEADERS}
    limit = _int(raw["X-RateLimit-Limit"])
    remaining = _int(raw["X-RateLimit-Remaining"])
    out = {
        "X-RateLimit-Limit": "absent"
        if raw["X-RateLimit-Limit"] is None
        else (str(limit) if limit is not None else "not an integer"),
        "X-RateLimit-Reset": reset_unit(raw["X-RateLimit-Reset"]),
    }
    if raw["X-RateLimit-Remaining"] is None:
        out["X-RateLimit-Remaining"] = "absent"
    elif remaining is None:
        out["X-RateLimit-Remaining"] = "not an integer"
    elif remaining < 0 or (limit is not None and remaining > limit):
        out["X-RateLimit-Remaining"] = "outside 0..Limit"
    else:
        out["X-RateLimit-Remaining"] = "within 0..Limit"
    return out


def _int(raw: str | None) -> int | None:
    try:
        return int(raw.strip()) if raw is not None else None
    except ValueError:
        return None


def compare(query_text: str, a: Answer, b: Answer) -> Iterator[Difference]:
    """Every difference between ``a`` and ``b``, the two answers to the query ``query_text``."""
    if a.response is None or b.response is None or a.response.status != b.response.status:
        yield Difference(
            _finding(
                "status_is_the_same",
                f"the status differs for {query_text}",
                a,
                b,
                a.status(),
                b.status(),
            ),
            ("status", a.status(), b.status()),
        )
    if a.response is None or b.response is None:
        return
    yield from _protocol(query_text, a, b, a.response, b.response)
    if a.response.status == b.response.status == 200:
        yield from _rules(query_text, a, b, Fetched.of(a.response), Fetched.of(b.response))


def _protocol(
    query_text: str, a: Answer, b: Answer, ra: Response, rb: Response
) -> Iterator[Difference]:
    if ra.status >= 400 and rb.status >= 400:
        ca, cb = error_code(ra), error_code(rb)
        if ca != cb:
            yield Difference(
                _finding(
                    "error_code_is_the_same",
                    f"error.code differs for {query_text} (HTTP {ra.status}/{rb.status})",
                    a,
                    b,
                    str(ca),
                    str(cb),
                ),
                ("error_code", ca, cb),
            )
    if ra.status == rb.status and ra.media_type != rb.media_type:
        yield Difference(
            _finding(
                "media_type_is_the_same",
                f"the media type differs for {query_text} (HTTP {ra.status})",
                a,
                b,
                ra.media_type or "none",
                rb.media_type or "none",
            ),
            ("media_type", ra.status, ra.media_type, rb.media_type),
        )
    sa, sb = rate_semantics(ra), rate_semantics(rb)
    for name in RATE_HEADERS:
        if sa[name] != sb[name]:
            yield Difference(
                _finding(
                    "rate_limit_semantics_are_the_same",
                    f"{name} means different things ({query_text})",
                    a,
                    b,
                    f"{sa[name]} ({ra.header(name)})",
                    f"{sb[name]} ({rb.header(name)})",
                ),
                ("rate", name, sa[name], sb[name]),
            )


def _describe(identity: RuleIdentity | None) -> str:
    if identity is None:
        return "(not a rule mapping)"
    return f"{identity.id} ({identity.ioc_type} {identity.value!r})"


def _pairs(fa: Fetched, fb: Fetched) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Index pairs of the same rule (by id, then by IOC), and the unpaired indexes."""
    ids_b = {ident.id: j for j, ident in enumerate(fb.identities) if ident is not None and ident.id}
    pairs: list[tuple[int, int]] = []
    left_a: list[int] = []
    used_b: set[int] = set()
    for i, ident in enumerate(fa.identities):
        j = ids_b.get(ident.id) if ident is not None and ident.id else None
        if j is not None and j not in used_b:
            pairs.append((i, j))
            used_b.add(j)
        else:
            left_a.append(i)
    iocs_b: dict[IocKey, int] = {}
    for j, ident in enumerate(fb.identities):
        if j not in used_b and ident is not None and ident.ioc_type and ident.value is not None:
            iocs_b.setdefault(ioc_key(ident.ioc_type, ident.value), j)
    only_a: list[int] = []
    for i in left_a:
        ident = fa.identities[i]
        key = (
            ioc_key(ident.ioc_type, ident.value)
            if ident is not None and ident.ioc_type and ident.value is not None
            else None
        )
        j = iocs_b.pop(key, None) if key is not None else None
        if j is None:
            only_a.append(i)
        else:
            pairs.append((i, j))
            used_b.add(j)
    only_b = [j for j in range(len(fb.identities)) if j not in used_b]
    return pairs, only_a, only_b


def _documents(fetched: Fetched) -> list[Any]:
    return [d for d in fetched.rules.documents if not d.trailing]


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _page_size(query_text: str) -> int:
    """The most rules an answer to this query may hold (its ``limit``, else the default)."""
    values = [v for k, v in parse_qsl(query_text) if k == "limit"]
    try:
        asked = int(values[-1]) if values else contract.DEFAULT_LIMIT
    except ValueError:
        asked = contract.DEFAULT_LIMIT
    return max(1, min(asked, contract.PRO.max_results))


def _rules(query_text: str, a: Answer, b: Answer, fa: Fetched, fb: Fetched) -> Iterator[Difference]:
    pairs, only_a, only_b = _pairs(fa, fb)
    page = _page_size(query_text)
    for check, side, indexes, fetched, other in (
        ("no_rules_only_in_a", "A", only_a, fa, fb),
        ("no_rules_only_in_b", "B", only_b, fb, fa),
    ):
        # A rule the other side's full page lacks may sit beyond that page: no evidence. (When
        # one side selects more, its extra rules still show wherever the pages are not full.)
        if not indexes or other.truncated(page):
            continue
        listed = [_describe(fetched.identities[i]) for i in indexes]
        shown = "; ".join(listed[:_SHOWN_RULES]) + (
            f"; … {len(listed) - _SHOWN_RULES} more" if len(listed) > _SHOWN_RULES else ""
        )
        va, vb = (shown, "(not returned)") if side == "A" else ("(not returned)", shown)
        finding = _finding(
            check, f"{len(indexes)} rule(s) only in {side} for {query_text}", a, b, va, vb
        )
        document = _documents(fetched)[indexes[0]].text
        yield Difference(_with_document(finding, document), (check, query_text))
    docs_a, docs_b = _documents(fa), _documents(fb)
    for i, j in pairs:
        ia, ib = fa.identities[i], fb.identities[j]
        if ia is not None and ib is not None and ia.id != ib.id:
            yield Difference(
                _finding(
                    "same_ioc_has_the_same_id",
                    f"the rule for {ia.ioc_type} {ia.value!r} has another id",
                    a,
                    b,
                    str(ia.id),
                    str(ib.id),
                ),
                ("id", ia.ioc_type, ia.value),
            )
        yield from _content(a, b, ia, docs_a[i].mapping or {}, docs_b[j].mapping or {})


def _content(
    a: Answer, b: Answer, ia: RuleIdentity | None, ma: dict[str, Any], mb: dict[str, Any]
) -> Iterator[Difference]:
    fields = [k for k in dict.fromkeys([*ma, *mb]) if k != "id" and ma.get(k) != mb.get(k)]
    if not fields:
        return
    va = "; ".join(f"{k}={_shown(ma.get(k))}" for k in fields)
    vb = "; ".join(f"{k}={_shown(mb.get(k))}" for k in fields)
    ioc_type = ia.ioc_type if ia is not None else None
    yield Difference(
        _finding(
            "same_rule_has_the_same_content",
            f"{ioc_type or 'untyped'} rules differ in: {', '.join(fields)} (e.g. {_describe(ia)})",
            a,
            b,
            va,
            vb,
        ),
        ("content", ioc_type, tuple(fields)),
        rule=ia.id if ia is not None else None,
    )


def _with_document(finding: Finding, document: str) -> Finding:
    return finding.with_reproduction(document=document)
