"""The filter and ``since`` checks, in-process: the mock passes them, each planted defect
fails the check named for it, and the verdicts say exactly what they found.

The same defects run over a real socket in ``test_catalogue.py``; here they run through a WSGI
adapter, fast enough to be the tests ``make mutation`` runs once per mutant of
``conformance/checks/filters.py`` and ``conformance/checks/since.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from conformance import contract
from conformance.findings import Finding
from conformance.results import Status
from tests.conformance.catalogue import CATALOGUE, BrokenApp, _since_earlier
from tests.conformance.in_process import run_checks
from tests.conformance.planted import (
    Plant,
    Reselected,
    chain,
    documents,
    feed,
    iocs_answer,
    per_body,
    per_document,
    per_query,
    per_record,
    respond,
    rule_id,
    with_documents,
    with_rule_id,
)

FILTER_CHECKS = (
    "type_filter_selects_only_its_type",
    "confidence_filter_selects_only_its_level",
    "industry_filter_selects_a_subset",
    "combined_filters_give_the_intersection",
    "limit_caps_the_count",
    "limit_gives_a_prefix",
)
SINCE_CHECKS = ("since_is_monotonic", "since_is_strict", "empty_result_is_empty_body")
ENTRIES = [e for e in CATALOGUE if e.check in FILTER_CHECKS + SINCE_CHECKS and e.gap is None]
DEFECTS = [pytest.param(entry, id=entry.name) for entry in ENTRIES]


def test_the_mock_passes_every_filter_and_since_check_strictly() -> None:
    results = run_checks(FILTER_CHECKS + SINCE_CHECKS, strict=True)
    for name, result in results.items():
        assert result.skip_reason is None, (name, result.skip_reason)
        assert result.findings == [], (name, result.findings)
        assert result.status(strict=True) is Status.PASSED


@pytest.mark.parametrize("entry", DEFECTS)
def test_each_defect_fails_its_check(entry: BrokenApp) -> None:
    result = run_checks(
        (entry.check,), entry.make, strict=entry.strict, max_examples=entry.examples
    )[entry.check]
    assert result.status(strict=entry.strict) is Status.FAILED, (result.skip_reason, result)
    finding = result.findings[0]
    assert finding.check == entry.check
    assert finding.reproduction.seed == 7
    assert finding.reproduction.curl is not None


@pytest.mark.parametrize("cap", [40])
def test_answers_cut_at_the_cap_are_not_judged_for_what_they_lack(
    monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """A server whose answers stop at its maximum (here 40 rules, and the checker told so)
    leaves rules out of the wide answers legitimately: no check may call that a defect."""
    monkeypatch.setattr(contract, "PRO", replace(contract.PRO, max_results=cap))
    results = run_checks(FILTER_CHECKS + SINCE_CHECKS[:2], strict=True, cap=cap)
    for name, result in results.items():
        assert result.status(strict=True) is Status.PASSED, (name, result.findings)


def test_every_filter_and_since_check_has_a_defect_here() -> None:
    assert {entry.check for entry in ENTRIES} == set(FILTER_CHECKS + SINCE_CHECKS)


# --- since at day resolution, and what each verdict says -------------------------------------


def _since_later(days: int) -> Any:
    return _since_earlier(lambda moment: -timedelta(days=days))


def test_since_a_day_early_for_updated_iocs_is_a_warning() -> None:
    """Rules dated before since whose IOCs were seen again since: one page says 'or updated'."""
    result = run_checks(
        ("since_is_strict",),
        per_query(_since_earlier(lambda m: timedelta(days=1))),
        max_examples=25,
    )["since_is_strict"]
    warning = next(f for f in result.findings if not f.documented)
    assert re.fullmatch(
        r"since=\S+ returned rule \S+ dated \d{4}-\d\d-\d\d, before it \(allowed only if the IOC "
        r"was updated since: a page says 'or updated'\)",
        warning.message,
    ), warning.message
    assert warning.reproduction.curl is not None
    assert "title:" in (warning.reproduction.document or "")


def test_since_days_late_leaves_rules_out() -> None:
    result = run_checks(("since_is_strict",), per_query(_since_later(3)), max_examples=25)[
        "since_is_strict"
    ]
    assert result.status(strict=False) is Status.FAILED
    finding = result.findings[0]
    assert re.fullmatch(
        r"since=\S+ left out rule \S+, dated \d{4}-\d\d-\d\d \(after it\)", finding.message
    ), finding.message
    assert finding.expected is not None
    assert finding.expected.startswith("every rule of curl ")
    assert "title:" in (finding.reproduction.document or "")


def test_an_inclusive_since_is_a_documented_finding_with_its_rule() -> None:
    result = run_checks(
        ("since_is_strict",),
        per_query(_since_earlier(lambda m: timedelta(seconds=1))),
        strict=True,
        max_examples=25,
    )["since_is_strict"]
    [finding] = result.findings
    assert finding.message.endswith(": 'after' is strict")
    assert finding.expected == "no rule for an IOC added at (not after) since"
    assert "title:" in (finding.reproduction.document or "")
    assert finding.reproduction.curl is not None
    assert "since=" in finding.reproduction.curl


def test_a_null_empty_answer_is_named() -> None:
    [entry] = [e for e in ENTRIES if e.check == "empty_result_is_empty_body"]
    result = run_checks(("empty_result_is_empty_body",), entry.make)["empty_result_is_empty_body"]
    [finding] = result.findings
    assert finding.message == "the empty answer holds a null YAML document"
    assert finding.expected == "an empty body (zero documents)"


# --- what each filter verdict says ------------------------------------------------------------

CURL = r"curl -H 'Authorization: Bearer sk_live_…' 'http://mock\.invalid/api/v1/iocs/sigma\?"


def _caught(name: str, check: str | None = None, **options: Any) -> Finding:
    """The first finding of the catalogue entry ``name`` (it must fail its check)."""
    [entry] = [e for e in CATALOGUE if e.name == name]
    result = run_checks(
        (check or entry.check,), entry.make, max_examples=entry.examples, **options
    )[check or entry.check]
    assert result.status(strict=True) is Status.FAILED, result.findings
    return result.findings[0]


def test_a_type_filter_ignored_names_the_rule_of_another_type() -> None:
    finding = _caught("type=url ignored")
    match = re.fullmatch(r"rule (\S+): type (\w+), level (\w+)", finding.received or "")
    assert match, finding.received
    rule, ioc_type, level = match.groups()
    assert ioc_type != "url"
    assert level in contract.CONFIDENCES
    assert finding.message == "type=url returned a rule whose IOC is another type"
    assert finding.expected == "only rules matching type=url"
    assert re.match(CURL + r"type=url", finding.reproduction.curl or "")
    assert f"id: {rule}\n" in (finding.reproduction.document or "")


def test_a_filter_losing_a_rule_names_it_and_the_wider_query() -> None:
    finding = _caught("confidence loses a rule")
    match = re.fullmatch(
        r"confidence=(\w+) left out 1 matching rule\(s\) that the same query without "
        r"confidence returns",
        finding.message,
    )
    assert match, finding.message
    missing = re.fullmatch(r"(\d+) rules; missing e\.g\. (\S+)", finding.received or "")
    assert missing, finding.received
    assert finding.expected is not None
    assert re.fullmatch(rf"every matching rule of {CURL}(?!.*confidence).*'", finding.expected)
    assert re.match(CURL + rf"confidence={match[1]}&", finding.reproduction.curl or "")
    document = finding.reproduction.document or ""
    assert f"id: {missing[2]}\n" in document
    assert f"level: {match[1]}\n" in document


def test_a_narrowing_filter_returning_more_names_the_extra_rules() -> None:
    finding = _caught("industry drops since")
    match = re.fullmatch(
        rf"industry=\S+ returned (\d+) rule\(s\) ({CURL}\S+') lacks", finding.message
    )
    assert match, finding.message
    extra = re.fullmatch(r"e\.g\. (\S+?)(?:, \S+?){0,2}", finding.received or "")
    assert extra, finding.received
    assert "industry=" not in match[2]
    assert finding.expected == f"a subset of {match[2]}"
    assert "industry=" in (finding.reproduction.curl or "")
    assert f"id: {extra[1]}\n" in (finding.reproduction.document or "")


def test_a_since_reading_further_back_names_the_rules_the_earlier_answer_lacks() -> None:
    finding = _caught("since jumps back on odd days")
    match = re.fullmatch(
        rf"since=(\S+) returned (\d+) rule\(s\) ({CURL}since=(\S+)&limit=10000') lacks",
        finding.message,
    )
    assert match, finding.message
    assert match[4] < match[1]
    extra = re.fullmatch(r"e\.g\. (\S+), \S+, \S+", finding.received or "")
    assert extra, finding.received
    assert int(match[2]) >= 3
    assert finding.expected == f"a subset of {match[3]}"
    assert f"since={match[1]}&" in (finding.reproduction.curl or "")
    assert f"id: {extra[1]}\n" in (finding.reproduction.document or "")


def test_combined_filters_losing_a_rule_say_how_many_and_of_which_queries() -> None:
    finding = _caught("combined filters lose a rule")
    assert finding.message == "combined filters are not the intersection of each filter alone"
    assert re.fullmatch(r"\d+ rules; 0 unexpected, 1 missing", finding.received or "")
    match = re.fullmatch(
        rf"the rules both of ({CURL}\S+') and of ({CURL}\S+')", finding.expected or ""
    )
    assert match, finding.expected
    both = finding.reproduction.curl or ""
    for part in match.groups():
        for pair in re.findall(r"[a-z]+=[^&']+", part):
            assert pair == "limit=10000" or pair in both
    assert finding.reproduction.document is None


def test_combined_filters_adding_a_rule_show_it() -> None:
    # Two filters together answer as if the second were not there: one rule too many.
    def drop_second(query: dict[str, str]) -> None:
        names = [n for n in ("type", "confidence", "industry", "since") if n in query]
        if len(names) >= 2:
            del query[names[-1]]

    result = run_checks(
        ("combined_filters_give_the_intersection",), per_query(drop_second), max_examples=25
    )["combined_filters_give_the_intersection"]
    assert result.status(strict=False) is Status.FAILED
    finding = result.findings[0]
    match = re.fullmatch(r"\d+ rules; ([1-9]\d*) unexpected, 0 missing", finding.received or "")
    assert match, finding.received
    assert "title:" in (finding.reproduction.document or "")


def test_a_limit_exceeded_says_the_count_and_the_cap() -> None:
    finding = _caught("limit off by one")
    match = re.fullmatch(r"limit=(\d+) returned (\d+) rules", finding.message)
    assert match, finding.message
    assert int(match[2]) == int(match[1]) + 1
    assert finding.expected == f"at most {match[1]} rules"
    assert f"limit={int(match[1]) + 1}" not in (finding.reproduction.curl or "")
    assert re.search(rf"limit={match[1]}'$", finding.reproduction.curl or "")


def test_a_default_limit_above_100_is_named_as_the_default() -> None:
    def default_101(query: dict[str, str]) -> None:
        query.setdefault("limit", "101")

    result = run_checks(("limit_caps_the_count",), per_query(default_101), max_examples=25)[
        "limit_caps_the_count"
    ]
    finding = result.findings[0]
    assert finding.message == "no limit (default 100) returned 101 rules"
    assert finding.expected == "at most 100 rules"
    assert "limit=" not in (finding.reproduction.curl or "")


def test_a_limit_giving_fewer_rules_than_match_is_one_warning() -> None:
    def limit_minus_one(query: dict[str, str]) -> None:
        if query.get("limit", "").isdigit() and 1 < int(query["limit"]) < 10_000:
            query["limit"] = str(int(query["limit"]) - 1)

    result = run_checks(("limit_caps_the_count",), per_query(limit_minus_one), max_examples=25)[
        "limit_caps_the_count"
    ]
    assert result.status(strict=False) is Status.WARNING
    assert result.status(strict=True) is Status.FAILED
    [warning] = result.findings
    assert warning.documented is False
    match = re.fullmatch(
        r"returned (\d+) rules although (\d+) match and the limit is (\d+)", warning.message
    )
    assert match, warning.message
    got, available, cap = map(int, match.groups())
    assert got == cap - 1
    assert available >= cap
    assert warning.expected == f"{cap} rules"
    assert re.search(rf"limit={cap}'$", warning.reproduction.curl or "")


def test_a_limit_that_is_not_a_prefix_shows_both_starts() -> None:
    finding = _caught("limit takes the tail")
    match = re.fullmatch(
        r"limit=(\d+) is not the first \1 rules of the same query", finding.message
    )
    assert match, finding.message
    assert re.fullmatch(r"ids \[.+\]\.\.\.", finding.received or "")
    wider = re.fullmatch(
        rf"ids (\[.+\])\.\.\. \(the start of ({CURL}.*limit=10000')\)", finding.expected or ""
    )
    assert wider, finding.expected
    assert wider[1].count(",") == 4
    assert re.search(rf"limit={match[1]}'$", finding.reproduction.curl or "")


# --- industry_filter_narrows_the_feed: sectors named anywhere, or none ------------------------

NARROWS = "industry_filter_narrows_the_feed"
IGNORED_BOTH = "industry ignored on both endpoints"


def _ignoring_industry() -> Plant:
    [entry] = [e for e in CATALOGUE if e.name == IGNORED_BOTH]
    return entry.make


def _narrows(plant: Plant | None) -> Any:
    return run_checks((NARROWS,), plant, strict=True)[NARROWS]


def _moved(field: str, spell: Callable[[str], Any], *, under: str | None = None) -> Any:
    """A record change naming the sectors under ``field`` (in ``under``), spelled by ``spell``."""

    def change(record: dict[str, Any]) -> None:
        named = [spell(s) for s in record.pop("industries")]
        value = named[0] if len(named) == 1 and isinstance(named[0], str) else named
        (record.setdefault(under, {}) if under else record)[field] = value

    return change


def _finance(slug: str) -> str:
    return "finance" if slug == "financial-services" else slug


SECTOR_SPELLINGS = [
    pytest.param(_moved("industries", str), id="industries"),
    pytest.param(_moved("sectors", lambda s: f" {_finance(s).upper()} "), id="Sectors, aliased"),
    pytest.param(_moved("targets", _finance, under="context"), id="a list in context"),
    pytest.param(_moved("affected", lambda s: {"industry": s}, under="context"), id="maps"),
]


@pytest.mark.parametrize("spelling", SECTOR_SPELLINGS)
def test_sectors_named_under_any_field_are_read(spelling: Callable[..., None]) -> None:
    """The mock with its sectors elsewhere in the record still passes; ignoring ``industry``
    behind the same records is caught by membership, naming the record's sectors."""
    assert _narrows(per_record(spelling)).status(strict=True) is Status.PASSED
    result = _narrows(chain(_ignoring_industry(), per_record(spelling)))
    assert result.status(strict=True) is Status.FAILED, result.skip_reason
    [finding] = result.findings
    match = re.fullmatch(
        r"industry=(\S+) returned rule (\S+) for an IOC whose record names the sectors "
        r"\[(.*)\]",
        finding.message,
    )
    assert match, finding.message
    assert match[1] == contract.INDUSTRIES[0]
    assert match[1] not in match[3]
    assert finding.expected == f"only IOCs of the {match[1]} sector"
    assert f"id: {match[2]}\n" in (finding.reproduction.document or "")


def _sector_in_rules(doc: str) -> str:
    """A rule document naming its IOC's sectors in a field of its own (``sectors:``)."""
    ioc = {i.id: i for i in feed().iocs}[rule_id(doc)]
    listed = "".join(f"  - {s}\n" for s in ioc.industries)
    return doc + (f"sectors:\n{listed}" if listed else "sectors: []\n")


def test_sectors_named_by_the_rules_themselves_are_read() -> None:
    """No IOC list to ask (a 404): the rules' own ``sectors`` field is enough to judge by."""
    no_list = iocs_answer(404)
    in_rules = chain(per_document(_sector_in_rules), no_list)
    assert _narrows(in_rules).status(strict=True) is Status.PASSED
    result = _narrows(chain(_ignoring_industry(), in_rules))
    [finding] = result.findings
    assert re.fullmatch(
        rf"industry={contract.INDUSTRIES[0]} returned rule \S+ for an IOC whose record names "
        r"the sectors (\['[a-z-]+'(, '[a-z-]+')*\]|none)",
        finding.message,
    ), finding.message


def _drop_last_of_sector(request: Request, response: Response) -> Response:
    if request.path == contract.SIGMA_PATH and "industry" in request.args:
        docs = documents(response)
        return with_documents(response, docs[:-1])
    return response


def test_a_sector_answer_missing_an_ioc_names_it() -> None:
    result = _narrows(respond(_drop_last_of_sector))
    [finding] = result.findings
    match = re.fullmatch(
        r"industry=(\S+) left out 1 IOC\(s\) whose record names that sector, e\.g\. (\w+) "
        r"'(\S+)'",
        finding.message,
    )
    assert match, finding.message
    sector, ioc_type, value = match.groups()
    [ioc] = [i for i in feed().iocs if i.value == value]
    assert ioc.type == ioc_type
    assert sector in ioc.industries
    assert finding.expected == f"every IOC of {CURL}limit=10000' in the {sector} sector".replace(
        "\\", ""
    )
    assert re.match(CURL + f"industry={sector}&", finding.reproduction.curl or "")


def test_industry_ignored_with_no_sector_data_is_caught_by_the_feed_size() -> None:
    finding = _caught("industry ignored, no sector data", strict=True)
    assert re.fullmatch(
        r"every one of the 16 sectors returns the whole feed \((\d+) rules\): industry= "
        r"filters nothing",
        finding.message,
    ), finding.message
    count = re.search(r"\((\d+) rules\)", finding.message)
    assert count
    assert finding.received == f"{count[1]} rules for each industry"
    assert finding.expected == "each sector a subset: not every IOC concerns every sector"
    assert re.match(CURL + f"industry={contract.INDUSTRIES[0]}&", finding.reproduction.curl or "")


def _first_rules(n: int) -> Plant:
    def rewrite(request: Request, response: Response) -> Response:
        if request.path == contract.SIGMA_PATH and response.status_code == 200:
            return with_documents(response, documents(response)[:n])
        return response

    return respond(rewrite)


@pytest.mark.parametrize(("rules", "judged"), [(49, False), (50, True)])
def test_a_small_feed_without_sector_data_is_not_judged(rules: int, judged: bool) -> None:
    """Fewer than 50 IOCs, none naming its sectors: every sector answering all is plausible."""
    [entry] = [e for e in CATALOGUE if e.name == "industry ignored, no sector data"]
    result = _narrows(chain(entry.make, _first_rules(rules)))
    if judged:
        assert result.status(strict=True) is Status.FAILED
        return
    assert result.status(strict=True) is Status.SKIPPED
    assert result.skip_reason == (
        f"no record names its sectors and the feed has {rules} rules (fewer than 50): an "
        "unfiltered answer per sector is not implausible"
    )


def test_a_feed_larger_than_one_answer_is_not_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "PRO", replace(contract.PRO, max_results=40))
    result = run_checks((NARROWS,), _ignoring_industry(), strict=True, cap=40)[NARROWS]
    assert result.status(strict=True) is Status.SKIPPED
    assert result.skip_reason == (
        "the feed is larger than one answer can hold: no sector can be compared"
    )


def test_a_confidence_answered_with_other_levels_names_the_level() -> None:
    def drop_medium(query: dict[str, str]) -> None:
        if query.get("confidence") == "medium":
            del query["confidence"]

    result = run_checks(("confidence_filter_selects_only_its_level",), per_query(drop_medium))[
        "confidence_filter_selects_only_its_level"
    ]
    finding = result.findings[0]
    assert finding.message == (
        "confidence=medium returned a rule whose level differs (the vendor's sample shows "
        "level equal to confidence)"
    )
    match = re.fullmatch(r"rule \S+: type \w+, level (\w+)", finding.received or "")
    assert match, finding.received
    assert match[1] != "medium"
    assert finding.expected == "only rules matching confidence=medium"


def test_combinations_all_cut_by_the_limit_leave_nothing_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server answering one rule at most (and the checker told so): every answer may be
    cut, so no intersection can be judged, and the check says so instead of passing."""
    monkeypatch.setattr(contract, "PRO", replace(contract.PRO, max_results=1))
    name = "combined_filters_give_the_intersection"
    result = run_checks((name,), strict=True, cap=1)[name]
    assert result.status(strict=True) is Status.SKIPPED, result.findings
    assert result.skip_reason == "every drawn combination was cut by the limit"


def test_a_prefix_defect_shows_five_ids_of_each_answer() -> None:
    def tail_above_five(whole: list[str], n: int) -> list[str]:
        return whole[len(whole) - n :] if n > 5 else whole[:n]

    result = run_checks(
        ("limit_gives_a_prefix",), lambda a: Reselected(a, tail_above_five), max_examples=25
    )["limit_gives_a_prefix"]
    finding = result.findings[0]
    match = re.fullmatch(
        r"limit=(\d+) is not the first \1 rules of the same query", finding.message
    )
    assert match, finding.message
    assert int(match[1]) > 5
    received = re.fullmatch(r"ids (\[.+\])\.\.\.", finding.received or "")
    assert received, finding.received
    assert received[1].count(",") == 4


def test_a_filtered_answer_is_judged_against_a_wider_answer_cut_by_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a 40-rule maximum the unfiltered answer is cut, but ``type=T`` for a small type is
    complete: it must still hold every T rule the cut answer shows (here the oldest one; the
    defect only in ``type`` alone, whose wider query is the cut one)."""
    monkeypatch.setattr(contract, "PRO", replace(contract.PRO, max_results=40))

    def lose_the_oldest(request: Request, response: Response) -> Response:
        docs = documents(response)
        alone = set(request.args) == {"type", "limit"}
        if request.path == contract.SIGMA_PATH and alone and docs:
            return with_documents(response, docs[1:])
        return response

    name = "type_filter_selects_only_its_type"
    result = run_checks((name,), respond(lose_the_oldest), cap=40)[name]
    assert result.status(strict=False) is Status.FAILED
    finding = result.findings[0]
    assert re.fullmatch(
        r"type=\w+ left out 1 matching rule\(s\) that the same query without type returns",
        finding.message,
    ), finding.message


def _documented_slugs_only(request: Request, response: Response) -> Response:
    """A server that knows only the sector slugs the vendor shows (400 for the others)."""
    industry = request.args.get("industry")
    known = (*contract.DOCUMENTED_INDUSTRY_EXAMPLES, *contract.INDUSTRY_ALIASES)
    if request.path == contract.SIGMA_PATH and industry is not None and industry not in known:
        return Response(b'{"error": {"code": "invalid_parameter"}}', status=400)
    return response


def test_a_server_knowing_only_the_documented_sector_slugs() -> None:
    """The filter checks draw only documented slugs; the industry check tries every slug, and
    a 400 for one the vendor never shows is a warning, not a failure."""
    plant = respond(_documented_slugs_only)
    others = [c for c in FILTER_CHECKS if c != "industry_filter_selects_a_subset"]
    for name, result in run_checks(others, plant, strict=True).items():
        assert result.status(strict=True) is Status.PASSED, (name, result.findings)
    result = run_checks(("industry_filter_selects_a_subset",), plant, max_examples=25)[
        "industry_filter_selects_a_subset"
    ]
    assert result.status(strict=False) is Status.WARNING
    [finding] = result.findings
    assert finding.documented is False
    assert finding.message == "a valid query got HTTP 400, not 200"
    assert "industry=" in (finding.reproduction.curl or "")


def test_an_industry_alias_is_tried_too() -> None:
    def alias_drops_filters(query: dict[str, str]) -> None:
        if query.get("industry") in contract.INDUSTRY_ALIASES:
            for name in ("since", "type", "confidence", "industry"):
                query.pop(name, None)

    name = "industry_filter_selects_a_subset"
    # One slug in 17 is the alias: 60 examples draw it with a filter to break.
    result = run_checks((name,), per_query(alias_drops_filters), max_examples=60)[name]
    assert result.status(strict=False) is Status.FAILED
    assert re.match(r"industry=finance returned", result.findings[0].message)


def _lose_first_with_exactly_two(request: Request, response: Response) -> Response:
    docs = documents(response)
    filters = set(request.args) & {"type", "confidence", "industry", "since"}
    if request.path == contract.SIGMA_PATH and len(filters) == 2 and docs:
        return with_documents(response, docs[1:])
    return response


def test_two_filters_together_are_tried_not_only_three() -> None:
    name = "combined_filters_give_the_intersection"
    result = run_checks((name,), respond(_lose_first_with_exactly_two), max_examples=25)[name]
    assert result.status(strict=False) is Status.FAILED


class _OneExtra:
    """Answers a query of two filters or more with one rule of the whole feed it lacks."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Any:
        whole_environ = {**environ, "QUERY_STRING": "limit=10000"}
        response = Response.from_app(self.app, environ)
        request = Request(environ)
        filters = set(request.args) & {"type", "confidence", "industry", "since"}
        if request.path == contract.SIGMA_PATH and response.status_code == 200 and len(filters) > 1:
            docs = documents(response)
            whole = documents(Response.from_app(self.app, whole_environ))
            extra = [d for d in whole if d not in docs][:1]
            response = with_documents(response, docs + extra)
        return response(environ, start)


def test_combined_filters_with_one_rule_too_many_show_it() -> None:
    name = "combined_filters_give_the_intersection"
    result = run_checks((name,), _OneExtra)[name]
    finding = result.findings[0]
    assert re.fullmatch(r"\d+ rules; 1 unexpected, 0 missing", finding.received or "")
    assert "title:" in (finding.reproduction.document or "")


def test_a_feed_without_dated_rules_leaves_the_filters_unjudged() -> None:
    undated = per_document(lambda doc: re.sub(r"^date: .*\n", "", doc, flags=re.M))
    results = run_checks(FILTER_CHECKS, undated)
    for name in FILTER_CHECKS:
        assert results[name].status(strict=True) is Status.SKIPPED, name
        assert results[name].skip_reason == "the feed has no dated rules to filter", name


def test_rules_with_an_empty_id_keep_their_document() -> None:
    [entry] = [e for e in CATALOGUE if e.name == "type=url ignored"]
    blank = per_document(lambda doc: with_rule_id(doc, "''"))
    name = entry.check
    result = run_checks((name,), lambda app: blank(entry.make(app)))[name]
    finding = result.findings[0]
    assert finding.message == "type=url returned a rule whose IOC is another type"
    assert "id: ''\n" in (finding.reproduction.document or "")


def test_the_smallest_limit_is_tried() -> None:
    """``limit=1`` answered with the last rule: the prefix check draws limits from 1."""
    name = "limit_gives_a_prefix"
    plant = lambda a: Reselected(a, lambda whole, n: whole[-1:] if n == 1 else whole[:n])  # noqa: E731
    result = run_checks((name,), plant)[name]
    assert result.status(strict=False) is Status.FAILED
    assert result.findings[0].message.startswith("limit=1 is not the first 1 rules")


def test_a_rule_whose_ioc_cannot_be_told_is_left_out_of_the_sector_data() -> None:
    """A rule about an unknown field names a sector but no IOC type: nothing to key it by."""
    odd = (
        "title: odd\nsectors: [energy]\n"
        "detection:\n  selection:\n    Foo: bar\n  condition: selection\n"
    )
    plant = chain(per_body(lambda docs: [*docs, odd] if docs else docs), iocs_answer(404))
    result = _narrows(plant)
    assert result.status(strict=True) is Status.PASSED, result.findings
