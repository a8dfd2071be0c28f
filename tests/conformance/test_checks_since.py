"""The ``since`` checks against servers that read ``since`` their own way, in-process.

Each planted server answers ``since=S`` with the mock's rules whose IOC a rule of its own keeps
(strictly after S, at S too, one second later, "added or updated", ...), so every verdict of
``since_is_strict``, ``_exact_boundary``, ``since_with_an_offset_is_the_same_instant`` and
``empty_result_is_empty_body`` is reached, and the tests read what a user reads: the finding's
message, what it expected and received, and the reproduction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from conformance import contract
from conformance.findings import Finding
from conformance.results import CheckResult, Status
from mockserver.model import IOC
from tests.conformance.catalogue import CATALOGUE, _ignored
from tests.conformance.in_process import run_checks
from tests.conformance.planted import (
    SIGMA_PATH,
    WHOLE,
    Plant,
    WSGIApp,
    chain,
    documents,
    feed,
    iocs_answer,
    per_body,
    per_document,
    per_query,
    per_record,
    query_of,
    respond,
    rule_id,
    set_query,
    with_documents,
    with_rule_id,
)

STRICT = "since_is_strict"
OFFSET = "since_with_an_offset_is_the_same_instant"
EMPTY = "empty_result_is_empty_body"
MONOTONIC = "since_is_monotonic"
CURL = r"curl -H 'Authorization: Bearer sk_live_…' 'http://mock\.invalid/api/v1/iocs/sigma\?"
DAY = r"\d{4}-\d\d-\d\d"
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"

Keep = Callable[[IOC, datetime], bool]


@pytest.fixture
def away_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The checker run on a machine whose local time is not UTC (India, +05:30)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SinceBy:
    """A WSGI app answering ``since=S`` with the mock's rules whose IOC ``keep(ioc, S)`` holds.

    The mock still judges the query as asked (a bad ``since`` stays a 400) and the other
    filters; only which rules ``since`` keeps changes, then ``limit`` cuts as before.
    """

    def __init__(self, app: WSGIApp, keep: Keep) -> None:
        self.app, self.keep = app, keep
        self.iocs = {ioc.id: ioc for ioc in feed().iocs}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        query = query_of(environ)
        whole_environ = dict(environ)
        response = Response.from_app(self.app, environ)
        if environ.get("PATH_INFO") == SIGMA_PATH and response.status_code == 200:
            since = _moment(query.pop("since")) if "since" in query else None
            if since is not None:
                limit = int(query.get("limit", contract.DEFAULT_LIMIT))
                set_query(whole_environ, {**query, "limit": WHOLE})
                whole = documents(Response.from_app(self.app, whole_environ))
                kept = [d for d in whole if self.keep(self.iocs[rule_id(d)], since)]
                response = with_documents(response, kept[:limit])
        return response(environ, start_response)


def since_by(keep: Keep) -> Plant:
    return lambda app: SinceBy(app, keep)


def _strictly_after(ioc: IOC, since: datetime) -> bool:
    return ioc.added > since


def _verdict(name: str, plant: Plant | None, **options: Any) -> CheckResult:
    options.setdefault("max_examples", 25)
    return run_checks((name,), plant, **options)[name]


def _only(result: CheckResult) -> Finding:
    [finding] = result.findings
    return finding


# --- the planted reader itself -----------------------------------------------------------------


def test_a_strictly_after_reader_is_the_mock() -> None:
    """The harness is sound: reading ``since`` as the mock does passes every since check."""
    results = run_checks((STRICT, MONOTONIC, EMPTY, OFFSET), since_by(_strictly_after), strict=True)
    for name, result in results.items():
        assert result.status(strict=True) is Status.PASSED, (name, result.findings)
        assert result.findings == [], name


# --- since_is_strict: a rule from before since whose IOC was not seen since --------------------


def test_since_ignored_returns_rules_dated_before_it_for_stale_iocs() -> None:
    result = _verdict(STRICT, _ignored("since", contract.SIGMA_PATH, contract.IOCS_PATH))
    assert result.status(strict=False) is Status.FAILED
    finding = _only(result)
    match = re.fullmatch(
        rf"since=({INSTANT}) returned rule (\S+), dated ({DAY}), for an IOC first seen "
        rf"({INSTANT}) and last seen ({INSTANT}): both before it",
        finding.message,
    )
    assert match, finding.message
    since, rule, day, first, last = match.groups()
    assert day < since[:10]
    assert first < since
    assert last < since
    assert finding.expected == "only IOCs added (or, on one page's reading, updated) after since"
    assert finding.documented
    assert re.match(CURL + r".*since=", finding.reproduction.curl or "")
    assert f"id: {rule}\n" in (finding.reproduction.document or "")
    assert f"date: {day}\n" in (finding.reproduction.document or "")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r.pop("last_seen"), id="no last_seen"),
        pytest.param(lambda r: r.update(last_seen="yesterday"), id="last_seen unreadable"),
    ],
)
def test_an_ioc_not_known_to_be_stale_is_only_a_warning(
    change: Callable[[dict[str, Any]], None],
) -> None:
    """Without a readable ``last_seen`` the IOC may have been updated since: a warning."""
    plant = chain(_ignored("since", contract.SIGMA_PATH), per_record(change))
    result = _verdict(STRICT, plant)
    assert result.status(strict=False) is Status.WARNING
    day, boundary = result.findings
    assert day.documented is False
    assert boundary.documented is False
    assert day.message.endswith(
        "(allowed only if the IOC was updated since: a page says 'or updated')"
    )
    assert "(its answer reads since as 'added or updated after'): 'after' is strict" in (
        boundary.message
    )


def test_without_the_ioc_list_a_rule_before_since_is_only_a_warning() -> None:
    """With no usable ``/api/v1/iocs`` nothing shows the IOC was not updated since."""
    plant = chain(_ignored("since", contract.SIGMA_PATH), iocs_answer(404))
    result = _verdict(STRICT, plant)
    assert result.status(strict=False) is Status.WARNING
    warning = _only(result)
    assert warning.documented is False
    assert re.fullmatch(
        rf"since={INSTANT} returned rule \S+ dated {DAY}, before it \(allowed only if the IOC "
        r"was updated since: a page says 'or updated'\)",
        warning.message,
    ), warning.message


# --- the exact boundary: one second before, and at, first_seen ---------------------------------


def test_since_read_one_second_late_misses_an_ioc_added_just_after_it() -> None:
    late = since_by(lambda ioc, since: ioc.added > since + timedelta(seconds=1))
    result = _verdict(STRICT, late)
    assert result.status(strict=False) is Status.FAILED
    finding = _only(result)
    match = re.fullmatch(
        rf"the (\w+) IOC '(\S+)', first seen ({INSTANT}), is missing from since=({INSTANT})",
        finding.message,
    )
    assert match, finding.message
    _, _, first, since = match.groups()
    assert _moment(since) == _moment(first) - timedelta(seconds=1)
    assert finding.expected == "its rule: it was added after since"
    assert finding.documented
    assert re.match(CURL + r"type=\w+&since=" + re.escape(since), finding.reproduction.curl or "")


def test_an_inclusive_since_reads_added_after_and_is_documented() -> None:
    inclusive = since_by(lambda ioc, since: ioc.added >= since)
    result = _verdict(STRICT, inclusive)
    assert result.status(strict=False) is Status.FAILED
    finding = _only(result)
    match = re.fullmatch(
        rf"the (\w+) IOC '(\S+)', first seen ({INSTANT}), is present with since=({INSTANT}) "
        r"\(its answer reads since as 'added after'\): 'after' is strict",
        finding.message,
    )
    assert match, finding.message
    ioc_type, value, first, since = match.groups()
    assert since == first
    assert finding.documented
    assert finding.expected == "no rule for an IOC added at (not after) since"
    assert re.match(CURL + rf"type={ioc_type}&since=", finding.reproduction.curl or "")
    assert value in (finding.reproduction.document or "")


def _added_or_updated(ioc: IOC, since: datetime) -> bool:
    return ioc.added >= since or ioc.last_seen > since


def test_an_inclusive_added_or_updated_reader_is_a_warning_for_an_updated_ioc() -> None:
    result = _verdict(STRICT, since_by(_added_or_updated))
    assert result.status(strict=False) is Status.WARNING
    day, boundary = result.findings
    assert day.documented is False
    assert boundary.documented is False
    assert "(its answer reads since as 'added or updated after'): 'after' is strict" in (
        boundary.message
    )


def test_an_inclusive_added_or_updated_reader_fails_for_an_ioc_never_updated() -> None:
    """The IOC at the boundary was not seen again after it was added: neither reading of
    "after" keeps it at ``since=first_seen``, so the finding is a failure."""
    first = _verdict(STRICT, since_by(_added_or_updated))
    picked = re.search(r"IOC '(\S+)'", first.findings[1].message)
    assert picked
    stale = {i.id for i in feed().iocs if i.value == picked.group(1)}

    def seen(ioc: IOC) -> datetime:
        return ioc.added if ioc.id in stale else ioc.last_seen

    def listing(record: dict[str, Any]) -> None:
        if record["id"] in stale:
            record["last_seen"] = record["first_seen"]

    reader = since_by(lambda ioc, since: ioc.added >= since or seen(ioc) > since)
    result = _verdict(STRICT, chain(reader, per_record(listing)))
    assert result.status(strict=False) is Status.FAILED
    day, boundary = result.findings
    assert day.documented is False
    assert boundary.documented
    assert f"IOC '{picked.group(1)}'" in boundary.message
    assert "(its answer reads since as 'added or updated after')" in boundary.message


def _fraction(record: dict[str, Any]) -> None:
    record["first_seen"] = record["first_seen"].replace("Z", ".500Z")


def test_a_first_seen_with_a_fraction_is_judged_at_the_next_whole_second() -> None:
    """Added at 12:00:00.5: since=12:00:00 must hold it and since=12:00:01 must not."""
    half = timedelta(milliseconds=500)
    exact = since_by(lambda ioc, since: ioc.added + half > since)
    results = run_checks((STRICT,), chain(exact, per_record(_fraction)), strict=True)
    assert results[STRICT].findings == []
    inclusive = since_by(lambda ioc, since: ioc.added + half >= since - half)
    result = _verdict(STRICT, chain(inclusive, per_record(_fraction)))
    finding = _only(result)
    assert re.search(rf"first seen {DAY}T\d\d:\d\d:\d\d\.500Z, is present", finding.message)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r.pop("first_seen"), id="none"),
        pytest.param(lambda r: r.update(first_seen="yesterday"), id="unreadable"),
        pytest.param(lambda r: r.update(first_seen=r["first_seen"][:10]), id="a day only"),
    ],
)
def test_a_list_without_a_first_seen_instant_leaves_the_boundary_unjudged(
    change: Callable[[dict[str, Any]], None],
) -> None:
    """No time of day to put the boundary at: the day-level verdicts alone, no crash and no
    finding (a day read as midnight would call the mock's rule added that afternoon early)."""
    results = run_checks((STRICT,), per_record(change), strict=True)
    assert results[STRICT].status(strict=True) is Status.PASSED, results[STRICT].findings
    assert results[STRICT].findings == []
    inclusive = since_by(lambda ioc, since: ioc.added >= since)
    result = _verdict(STRICT, chain(inclusive, per_record(change)), strict=True)
    assert result.status(strict=True) is Status.PASSED, result.findings


# --- since with a UTC offset -------------------------------------------------------------------


def test_an_ignored_offset_is_named_with_both_answers() -> None:
    [entry] = [e for e in CATALOGUE if e.check == OFFSET]
    result = _verdict(OFFSET, entry.make)
    finding = _only(result)
    match = re.fullmatch(
        rf"since=({DAY}T\d\d:\d\d:\d\d[+-]\d\d:\d\d) and since=({INSTANT}) are one instant "
        r"but get different rules",
        finding.message,
    )
    assert match, finding.message
    local, in_z = match.groups()
    assert _moment(local) == _moment(in_z)
    assert re.fullmatch(r"(\d+) rules: 0 extra, [1-9]\d* missing", finding.received or "")
    assert re.fullmatch(
        rf"the \d+ rules of {CURL}since={re.escape(in_z)}&limit=10000'", finding.expected or ""
    ), finding.expected
    assert "since=" + local.replace("+", "%2B") in (finding.reproduction.curl or "")


def _offsets(status: int, *, sign: str = "+-") -> Plant:
    def rewrite(request: Request, response: Response) -> Response:
        since = request.args.get("since", "")
        if request.path == SIGMA_PATH and re.search(rf"[{sign}]\d\d:\d\d$", since):
            return Response(b'{"error": {"code": "bad"}}', status=status)
        return response

    return respond(rewrite)


def test_refusing_offsets_with_a_400_is_allowed() -> None:
    result = _verdict(OFFSET, _offsets(400), strict=True)
    assert result.status(strict=True) is Status.PASSED
    assert result.findings == []


def test_an_offset_answered_with_a_500_fails() -> None:
    finding = _only(_verdict(OFFSET, _offsets(500)))
    assert re.fullmatch(r"since=\S+[+-]\d\d:\d\d got HTTP 500", finding.message), finding.message
    assert finding.received == "HTTP 500"
    assert finding.expected == "200 (the same rules as the instant in Z) or a 400"
    assert finding.reproduction.curl is not None


# --- the empty answer --------------------------------------------------------------------------


def _empty_answer(change: Callable[[Response], Response]) -> Plant:
    def rewrite(request: Request, response: Response) -> Response:
        if request.path == SIGMA_PATH and response.status_code == 200 and not response.data:
            return change(response)
        return response

    return respond(rewrite)


def test_an_empty_answer_as_a_404_fails() -> None:
    plant = _empty_answer(lambda r: Response(b'{"error": {"code": "not_found"}}', status=404))
    finding = _only(_verdict(EMPTY, plant))
    assert finding.message == "a query matching nothing got HTTP 404"
    assert finding.received == "HTTP 404"
    assert finding.expected == "200 with an empty body"
    assert re.match(CURL + r"since=.*&type=ipv4&confidence=low'", finding.reproduction.curl or "")


def _body(text: str) -> Callable[[Response], Response]:
    def change(response: Response) -> Response:
        response.set_data(text.encode())
        return response

    return change


def test_an_empty_answer_holding_a_list_fails_with_the_document() -> None:
    finding = _only(_verdict(EMPTY, _empty_answer(_body("--- []\n"))))
    assert finding.message == "the empty answer holds a document that is not a rule"
    assert finding.received == "[]"
    assert finding.expected == "an empty body (zero documents)"
    assert finding.reproduction.document == "[]\n"
    assert finding.reproduction.curl is not None


def test_an_empty_answer_with_a_comment_only_is_empty() -> None:
    result = _verdict(EMPTY, _empty_answer(_body("# nothing matched\n")), strict=True)
    assert result.status(strict=True) is Status.PASSED


def test_an_answer_holding_rules_leaves_nothing_to_judge() -> None:
    result = _verdict(EMPTY, _ignored("since", contract.SIGMA_PATH))
    assert result.status(strict=True) is Status.SKIPPED
    assert re.fullmatch(
        r"the query meant to match nothing returned \d+ document\(s\) \(a live feed may have "
        r"grown\): nothing to judge",
        result.skip_reason or "",
    ), result.skip_reason


# --- since_is_monotonic ------------------------------------------------------------------------


def test_since_misread_only_alongside_another_filter_is_caught() -> None:
    """The pairs are drawn with the other filters too: a server whose ``since`` slips only
    when ``type``, ``confidence`` or ``industry`` comes with it is not monotonic."""

    def back_on_odd_days(query: dict[str, str]) -> None:
        if "since" in query and len(query) > 2:  # since, limit and another filter
            moment = _moment(query["since"])
            if moment.day % 2:
                query["since"] = (moment - timedelta(days=200)).isoformat().replace("+00:00", "Z")

    result = _verdict(MONOTONIC, per_query(back_on_odd_days))
    assert result.status(strict=False) is Status.FAILED
    finding = result.findings[0]
    assert re.fullmatch(rf"since={INSTANT} returned \d+ rule\(s\) {CURL}.*' lacks", finding.message)
    assert re.search(r"(type|confidence|industry)=", finding.reproduction.curl or "")


# --- since_is_strict on bodies that are not all dated rules ------------------------------------


def _undated(only: str) -> Callable[[str], str]:
    return lambda doc: re.sub(r"^date: .*\n", "", doc, flags=re.M) if only in doc else doc


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(per_document(_undated("Hashes|contains")), id="hash rules undated"),
        pytest.param(per_body(lambda docs: [*docs, "[]\n"] if docs else docs), id="a list"),
    ],
)
def test_rules_without_a_day_are_passed_over(plant: Plant) -> None:
    """Undated rules and documents that are not rules have no day to judge: the others are
    judged, and since ignored is still caught on them."""
    assert _verdict(STRICT, plant).findings == []
    ignored = chain(_ignored("since", contract.SIGMA_PATH, contract.IOCS_PATH), plant)
    finding = _only(_verdict(STRICT, ignored))
    assert finding.message.endswith(": both before it")


def test_since_ignored_is_caught_whatever_the_order_of_the_rules() -> None:
    """Newest first: the rules dated before ``since`` come after the ones dated after it."""
    newest_first = per_body(lambda docs: docs[::-1])
    plant = chain(_ignored("since", contract.SIGMA_PATH, contract.IOCS_PATH), newest_first)
    finding = _only(_verdict(STRICT, plant))
    assert finding.message.endswith(": both before it")


def test_rules_with_an_empty_id_keep_their_document_in_the_reproduction() -> None:
    blank = per_document(lambda doc: with_rule_id(doc, "''"))
    inclusive = since_by(lambda ioc, since: ioc.added >= since)
    finding = _only(_verdict(STRICT, chain(inclusive, blank)))
    assert "is present with since=" in finding.message
    assert "id: ''\n" in (finding.reproduction.document or "")
    ignored = chain(_ignored("since", contract.SIGMA_PATH, contract.IOCS_PATH), blank)
    finding = _only(_verdict(STRICT, ignored))
    assert finding.message.endswith(": both before it")
    assert "id: ''\n" in (finding.reproduction.document or "")


# --- which IOC the boundary is judged on -------------------------------------------------------


def test_the_boundary_ioc_is_drawn_from_the_whole_list() -> None:
    """Over a few seeds the inclusive reader is shown on IOCs from all of ``/api/v1/iocs``,
    not only its first page (the list's default limit is 100)."""
    inclusive = since_by(lambda ioc, since: ioc.added >= since)
    order = [ioc.value for ioc in feed().iocs]
    named = []
    for seed in range(1, 7):
        finding = _only(_verdict(STRICT, inclusive, seed=seed, max_examples=1))
        picked = re.search(r"IOC '(\S+)'", finding.message)
        assert picked
        named.append(order.index(picked[1]))
    assert max(named) >= contract.DEFAULT_LIMIT, named


def test_ties_and_unreadable_times_do_not_make_an_answer_read_or_updated() -> None:
    """Two IOCs added at the same second (both present at ``since`` = that second) and later
    IOCs whose ``first_seen`` cannot be read: none of them shows an IOC added *before* since,
    so an inclusive server still reads as "added after", a documented failure."""
    ipv4 = [ioc for ioc in feed().iocs if ioc.type == "ipv4"]
    first, twin = ipv4[len(ipv4) // 2], ipv4[len(ipv4) // 2 + 1]
    later = {ioc.id for ioc in ipv4[len(ipv4) // 2 + 2 :]}
    assert later

    def added(ioc: IOC) -> datetime:
        return first.added if ioc.id == twin.id else ioc.added

    def listing(record: dict[str, Any]) -> None:
        if record["id"] == twin.id:
            record["first_seen"] = first.added.isoformat().replace("+00:00", "Z")
        elif record["id"] != first.id:
            record["first_seen"] = "unknown" if record["id"] in later else "yesterday"

    reader = since_by(lambda ioc, since: added(ioc) >= since)
    finding = _only(_verdict(STRICT, chain(reader, per_record(listing))))
    assert finding.documented
    assert "(its answer reads since as 'added after'): 'after' is strict" in finding.message
    assert re.search(rf"IOC '({re.escape(first.value)}|{re.escape(twin.value)})'", finding.message)


# --- more of the empty answer ------------------------------------------------------------------


@pytest.mark.usefixtures("away_from_utc")
def test_the_empty_query_asks_two_days_after_the_last_rule() -> None:
    last = max(i.added for i in feed().iocs if i.type in contract.SIGMA_TYPES).date()
    plant = _empty_answer(lambda r: Response(b"{}", status=500))
    finding = _only(_verdict(EMPTY, plant))
    assert finding.message == "a query matching nothing got HTTP 500"
    since = f"{last + timedelta(days=2)}T00:00:00Z"
    assert finding.reproduction.curl == (
        "curl -H 'Authorization: Bearer sk_live_…' 'http://mock.invalid/api/v1/iocs/sigma?"
        f"since={since}&type=ipv4&confidence=low'"
    )


def test_a_feed_without_dated_rules_leaves_the_empty_answer_unjudged() -> None:
    result = _verdict(EMPTY, per_document(_undated("")))
    assert result.status(strict=True) is Status.SKIPPED
    assert result.skip_reason == "the feed has no dated rules, so no query is known to be empty"


def test_a_null_empty_answer_shows_the_start_of_the_body() -> None:
    body = "null\n# " + "x" * 300 + "\n"
    finding = _only(_verdict(EMPTY, _empty_answer(_body(body))))
    assert finding.message == "the empty answer holds a null YAML document"
    assert finding.received == repr(body.encode()[:200])
    assert re.match(CURL + r"since=", finding.reproduction.curl or "")


@pytest.mark.parametrize(
    ("body", "received"),
    [
        pytest.param("--- [" + ", ".join(map(str, range(100))) + "]\n", None, id="a long list"),
        pytest.param("--- {unclosed: [\n", "error", id="not YAML"),
    ],
)
def test_a_non_rule_in_the_empty_answer_shows_what_it_is(body: str, received: str | None) -> None:
    finding = _only(_verdict(EMPTY, _empty_answer(_body(body))))
    assert finding.message == "the empty answer holds a document that is not a rule"
    assert finding.reproduction.document == body.removeprefix("--- ")
    if received is None:
        assert finding.received == repr(list(range(100)))[:200]
    else:
        assert finding.received
        assert finding.received != "None"
        assert not finding.received.startswith("[")


# --- more of since with an offset --------------------------------------------------------------


def _offset_loses_a_rule_on(day: str, *, sign: str = "+-") -> Plant:
    """Answer ``since`` with an offset one rule short, on one UTC day only (``sign``: which
    offsets)."""

    def rewrite(request: Request, response: Response) -> Response:
        since = request.args.get("since", "")
        if not re.search(rf"[{sign}]\d\d:\d\d$", since) or response.status_code != 200:
            return response
        if _moment(since).astimezone(UTC).date().isoformat() != day:
            return response
        return with_documents(response, documents(response)[:-1])

    return respond(rewrite)


def _quartile_days() -> list[str]:
    """The check's three days: a quarter, half and three quarters into the feed's rule days."""
    days = sorted({i.added.date() for i in feed().iocs if i.type in contract.SIGMA_TYPES})
    n = len(days)
    return [days[n // 4].isoformat(), days[n // 2].isoformat(), days[(3 * n) // 4].isoformat()]


@pytest.mark.usefixtures("away_from_utc")
@pytest.mark.parametrize("which", [0, 1, 2])
def test_offsets_are_tried_on_a_quarter_half_and_three_quarters_into_the_feed(which: int) -> None:
    day = _quartile_days()[which]
    finding = _only(_verdict(OFFSET, _offset_loses_a_rule_on(day)))
    assert f"since={day}T00:00:00Z are one instant" in finding.message


def test_an_offset_ignored_after_a_refused_one_is_caught() -> None:
    """A 400 for ``+14:00`` does not excuse ``-12:00`` read as Z."""
    day = _quartile_days()[0]
    plant = chain(_offset_loses_a_rule_on(day, sign="-"), _offsets(400, sign="+"))
    finding = _only(_verdict(OFFSET, plant))
    assert re.match(
        rf"since={day[:8]}\d\dT\d\d:00:00-12:00 and since={day}T00:00:00Z", finding.message
    )


def _since_shifted(days: int) -> Plant:
    def change(query: dict[str, str]) -> None:
        if "since" in query:
            moment = _moment(query["since"]) - timedelta(days=days)
            query["since"] = moment.isoformat().replace("+00:00", "Z")

    return per_query(change)


def test_a_day_early_warning_on_rules_with_an_empty_id_keeps_its_document() -> None:
    blank = per_document(lambda doc: with_rule_id(doc, "''"))
    early = _verdict(STRICT, chain(_since_shifted(1), blank)).findings
    assert early[0].message.endswith("a page says 'or updated')")
    assert "id: ''\n" in (early[0].reproduction.document or "")


def test_a_rule_left_out_is_reproduced_with_the_request_that_lacks_it() -> None:
    late = _only(_verdict(STRICT, _since_shifted(-3)))
    match = re.fullmatch(
        rf"since=({INSTANT}) left out rule \S+, dated {DAY} \(after it\)", late.message
    )
    assert match, late.message
    assert re.fullmatch(CURL + rf"since={match[1]}.*&limit=10000'", late.reproduction.curl or "")


def test_since_ignored_up_to_the_last_day_is_caught_newest_first() -> None:
    """Newest first, the rules dated before ``since`` come after one dated after it."""
    last = max(i.added for i in feed().iocs).date().isoformat()

    def ignore_up_to_the_end(query: dict[str, str]) -> None:
        if query.get("since", "9")[:10] <= last:
            query.pop("since", None)

    plant = chain(per_query(ignore_up_to_the_end), per_body(lambda docs: docs[::-1]))
    finding = _only(_verdict(STRICT, plant))
    assert finding.message.endswith(": both before it")


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(
            lambda t: _moment(t).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
            id="+05:30",
        ),
        pytest.param(lambda t: t.removesuffix("Z"), id="no zone"),
    ],
)
def test_list_times_with_an_offset_or_no_zone_are_read_as_instants(
    spell: Callable[[str], str],
) -> None:
    def listing(record: dict[str, Any]) -> None:
        record["first_seen"], record["last_seen"] = map(
            spell, (record["first_seen"], record["last_seen"])
        )

    inclusive = since_by(lambda ioc, since: ioc.added >= since)
    finding = _only(_verdict(STRICT, chain(inclusive, per_record(listing))))
    assert "(its answer reads since as 'added after'): 'after' is strict" in finding.message
