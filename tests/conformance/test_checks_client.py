"""Client checks on recorded outcomes built by hand: each property holds, and each bites."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

import conformance.checks.client_files as files
import conformance.checks.client_traffic as checks
from conformance.clientmode.outcome import (
    ClientRequest,
    RunRecord,
    ScenarioOutcome,
    infer_file_model,
    rule_map,
)
from conformance.clientmode.scenarios import Scenario, Step
from conformance.findings import Finding, Severity, SkipCheck
from tests.keys import PRO_KEY

KEY = PRO_KEY
SIGMA = "/api/v1/iocs/sigma"
DETECTION = "detection:\n  selection:\n    DestinationIp: {ip}\n  condition: selection\n"
RULE_A = "title: A\nid: a\n" + DETECTION.format(ip="203.0.113.1")
RULE_B = "title: B\nid: b\n" + DETECTION.format(ip="203.0.113.2")


def exchange(
    time: float = 0.0,
    status: int = 200,
    *,
    path: str = SIGMA,
    query: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    response: Mapping[str, str] | None = None,
    complete: bool = True,
    delivered: Mapping[str, str] | None = None,
) -> ClientRequest:
    return ClientRequest(
        time, path, {k: tuple(v) for k, v in (query or {}).items()},
        {"Authorization": f"Bearer {KEY}"} if headers is None else dict(headers),
        status, dict(response or {}), complete, delivered,
    )  # fmt: skip


def run(
    *exchanges: ClientRequest,
    index: int = 0,
    expect: str = "success",
    code: int | None = 0,
    stderr: str = "",
    before: bytes | None = None,
    after: bytes | None = None,
) -> RunRecord:
    return RunRecord(
        index,
        Step(expect=expect),
        KEY,
        code,
        "",
        stderr,
        exchanges,
        before,
        after,  # type: ignore[arg-type]
    )


def outcome(
    *runs: RunRecord, feed: Mapping[str, str] | None = None, model: str = "accumulate"
) -> ScenarioOutcome:
    scenario = Scenario("test", "hand-made", tuple(r.step for r in runs))
    return ScenarioOutcome(scenario, ("client",), runs, feed, model)  # type: ignore[arg-type]


def findings(check: Any, subject: ScenarioOutcome) -> list[Finding]:
    return list(check(subject))


def texts(*rules: str) -> dict[str, str]:
    result = rule_map("---\n".join(rules).encode())
    assert isinstance(result, dict)
    return result


def test_key_forms() -> None:
    ok = [
        exchange(),
        exchange(headers={"X-Api-Key": KEY}),
        exchange(path="/healthz", headers={}),  # not an API call
    ]
    assert findings(checks.sends_the_key_in_a_header, outcome(run(*ok))) == []
    in_url = findings(
        checks.sends_the_key_in_a_header,
        outcome(run(exchange(headers={}, query={"api_key": [KEY]}))),
    )
    assert [f.severity for f in in_url] == [Severity.WARNING]
    for wrong in ({"Authorization": KEY}, {"Authorization": f"Token {KEY}"}, {}):
        found = findings(checks.sends_the_key_in_a_header, outcome(run(exchange(headers=wrong))))
        assert [f.severity for f in found] == [Severity.FAILURE]
        assert KEY not in (found[0].message + (found[0].received or ""))


@pytest.mark.parametrize(
    ("path", "query", "problem"),
    [
        (SIGMA, {"type": ["ipv4"], "since": ["2026-01-01T00:00:00Z"], "limit": ["10000"]}, None),
        ("/api/v1/iocs", {"offset": ["100"], "category": ["malware"]}, None),
        (SIGMA, {"offset": ["100"]}, "offset is not a documented parameter"),
        (SIGMA, {"page": ["2"]}, "page is not a documented parameter"),
        (SIGMA, {"type": ["ip"]}, "type='ip'"),
        (SIGMA, {"confidence": ["HIGH"]}, "confidence='HIGH'"),
        (SIGMA, {"industry": ["banking"]}, "industry='banking'"),
        (SIGMA, {"limit": ["0"]}, "limit='0'"),
        (SIGMA, {"since": ["last tuesday"]}, "not an ISO 8601"),
        (SIGMA, {"since": ["2026-01-01T00:00:00"]}, "no time zone"),
        (SIGMA, {"type": ["ipv4", "url"]}, "given 2 times"),
        ("/api/v2/rules", {}, "undocumented path"),
    ],
)
def test_parameters(path: str, query: dict[str, list[str]], problem: str | None) -> None:
    found = findings(
        checks.sends_only_documented_parameters, outcome(run(exchange(path=path, query=query)))
    )
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1
        assert problem in found[0].message


def test_refused_key() -> None:
    once = outcome(run(exchange(status=401), expect="failure", code=3, stderr="refused"))
    assert findings(checks.refused_key_is_not_retried, once) == []
    assert findings(checks.fails_loudly_when_it_cannot_sync, once) == []
    hammer = outcome(run(*[exchange(status=401)] * 3, expect="failure", code=0))
    assert len(findings(checks.refused_key_is_not_retried, hammer)) == 1
    assert "exit 0" in findings(checks.fails_loudly_when_it_cannot_sync, hammer)[0].message
    quiet = outcome(run(exchange(status=403), expect="failure", code=1, stderr="  \n"))
    assert (
        "nothing on stderr" in findings(checks.fails_loudly_when_it_cannot_sync, quiet)[0].message
    )
    with pytest.raises(SkipCheck):
        findings(checks.refused_key_is_not_retried, outcome(run(exchange())))


def test_exit_status_and_timeout() -> None:
    fetched = exchange(delivered={})
    assert findings(checks.succeeds_when_the_feed_is_served, outcome(run(fetched, code=0))) == []
    failed = findings(checks.succeeds_when_the_feed_is_served, outcome(run(fetched, code=4)))
    assert "exit 4" in failed[0].message
    idle = findings(checks.succeeds_when_the_feed_is_served, outcome(run(code=0)))
    assert "without one intact answer" in idle[0].message
    cut = outcome(run(exchange(complete=False), code=0))
    assert len(findings(checks.succeeds_when_the_feed_is_served, cut)) == 1
    assert len(findings(checks.completes_within_the_timeout, outcome(run(code=None)))) == 1
    with pytest.raises(SkipCheck):
        findings(checks.fails_loudly_when_it_cannot_sync, outcome(run(code=0)))


def limited(time: float, reset: int, status: int = 200) -> ClientRequest:
    headers = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)}
    return exchange(time, status, response=headers)


def test_rate_limit_waits() -> None:
    waited = outcome(run(limited(100.0, 102, status=429), exchange(102.0)))
    assert findings(checks.waits_for_rate_limit_reset, waited) == []
    early = outcome(run(limited(100.0, 102, status=429), exchange(101.0)))
    assert "1.00s before" in findings(checks.waits_for_rate_limit_reset, early)[0].message
    within = outcome(run(limited(100.0, 101), exchange(100.9)))  # inside the tolerance
    assert findings(checks.stays_within_the_rate_limit, within) == []
    over = outcome(run(limited(100.0, 105), exchange(100.1)))
    assert len(findings(checks.stays_within_the_rate_limit, over)) == 1
    across_runs = outcome(run(limited(100.0, 105)), run(exchange(101.0), index=1))
    assert len(findings(checks.stays_within_the_rate_limit, across_runs)) == 1
    with pytest.raises(SkipCheck):
        findings(checks.waits_for_rate_limit_reset, outcome(run(exchange())))


def attempts(*times: float, last: int = 200) -> list[ClientRequest]:
    failed = [exchange(t, 503) for t in times[:-1]]
    return [*failed, exchange(times[-1], last)]


@pytest.mark.parametrize(
    ("times", "problem"),
    [
        ((0.0, 0.1, 0.3, 0.7), None),  # doubling
        ((0.0, 0.5), None),  # one retry, not immediate
        ((0.0, 0.001, 0.002), "an immediate retry"),
        ((0.0, 1.0, 2.0, 3.0), "the waits do not grow"),
    ],
)
def test_backoff(times: tuple[float, ...], problem: str | None) -> None:
    found = findings(checks.backs_off_between_retries, outcome(run(*attempts(*times))))
    assert [problem] if problem else [f.message.split(":")[0] for f in found] == []


def test_retries_and_their_bound() -> None:
    gave_up = outcome(run(exchange(0.0, 503)))
    assert "after one failed attempt" in findings(checks.retries_server_errors, gave_up)[0].message
    reset = outcome(run(exchange(0.0, 0, complete=False), exchange(1.0)))
    cut = outcome(run(exchange(0.0, 200, complete=False), exchange(1.0)))
    for recovered in (reset, cut):
        assert findings(checks.retries_server_errors, recovered) == []
    eleven = outcome(run(*attempts(*[float(i) for i in range(11)], last=503)))
    assert "11 attempts" in findings(checks.bounds_its_retries, eleven)[0].message
    with pytest.raises(SkipCheck):
        findings(checks.retries_server_errors, outcome(run(exchange(), exchange(status=404))))


def test_rules_file_states() -> None:
    good = texts(RULE_A, RULE_B)
    served = exchange(delivered=good)
    exact = ("---\n".join([RULE_B, RULE_A])).encode()  # order does not matter
    assert (
        findings(files.leaves_no_partial_or_corrupt_file, outcome(run(served, after=exact))) == []
    )
    assert findings(files.writes_exactly_the_served_rules, outcome(run(served, after=exact))) == []
    kept = outcome(run(exchange(status=503), expect="failure", code=4, before=b"old", after=b"old"))
    assert findings(files.leaves_no_partial_or_corrupt_file, kept) == []
    for bad in (
        RULE_A[:40].encode(),
        b'{"error": {"code": "x"}}',
        b"",
        (RULE_A + "---\n" + RULE_A).encode(),
    ):
        corrupt = outcome(run(served, before=b"old", after=bad))
        assert len(findings(files.leaves_no_partial_or_corrupt_file, corrupt)) == 1, bad
        assert len(findings(files.writes_exactly_the_served_rules, corrupt)) == 1, bad
    reserialised = RULE_A.replace("title: A", "title: 'A'").encode() + b"---\n" + RULE_B.encode()
    found = findings(
        files.writes_exactly_the_served_rules, outcome(run(served, after=reserialised))
    )
    assert [f.severity for f in found] == [Severity.WARNING]


def test_incremental_runs() -> None:
    first, second = texts(RULE_A), texts(RULE_B)
    both = ("---\n".join([RULE_A, RULE_B])).encode()
    good = outcome(
        run(exchange(delivered=first), after=RULE_A.encode()),
        run(
            exchange(query={"since": ["2026-01-01T00:00:00Z"]}, delivered=second),
            index=1,
            after=both,
        ),
        feed=texts(RULE_A, RULE_B),
    )
    assert findings(checks.fetches_nothing_twice, good) == []
    assert findings(files.misses_nothing_across_runs, good) == []
    again = outcome(
        run(exchange(delivered=first), after=RULE_A.encode()),
        run(exchange(delivered=first), index=1, after=RULE_A.encode()),
        feed=texts(RULE_A, RULE_B),
    )
    assert "(no since sent)" in findings(checks.fetches_nothing_twice, again)[0].message
    assert "1 of the feed's 2 rules" in findings(files.misses_nothing_across_runs, again)[0].message
    with pytest.raises(SkipCheck):
        findings(files.misses_nothing_across_runs, outcome(run()))


def test_rule_map_says_why_a_body_is_not_clean() -> None:
    assert rule_map(b"") == {}
    assert isinstance(rule_map(b"\xff\xfe"), str)
    assert "does not load" in str(rule_map(b"title: [unterminated\n"))
    assert "not a Sigma rule" in str(rule_map(b"action: global\nid: x\n"))
    twice = (RULE_A + "---\n" + RULE_A).encode()
    assert "two documents" in str(rule_map(twice))
    assert rule_map(twice, allow_repeats=True) == texts(RULE_A)
    other = RULE_A.replace("203.0.113.1", "203.0.113.9")
    assert isinstance(rule_map((RULE_A + "---\n" + other).encode(), allow_repeats=True), str)
    assert rule_map(b"\xef\xbb\xbf" + RULE_A.replace("\n", "\r\n").encode()) == texts(RULE_A)


def _delta_runs(middle_after: bytes) -> tuple[RunRecord, ...]:
    """The vendor's cron recipe: rules A, then nothing new, then rule B, each run's file."""
    since = {"since": ["2026-01-01T00:00:00Z"]}
    return (
        run(exchange(delivered=texts(RULE_A)), after=RULE_A.encode()),
        run(exchange(query=since, delivered={}), index=1, before=RULE_A.encode(),
            after=middle_after),
        run(exchange(query=since, delivered=texts(RULE_B)), index=2, before=middle_after,
            after=RULE_B.encode()),
    )  # fmt: skip


def test_latest_file_model_accepts_the_vendors_delta_recipe() -> None:
    feed = texts(RULE_A, RULE_B)
    for empty in (b"", b"\n"):  # curl -o writes the empty answer as it came
        latest = outcome(*_delta_runs(empty), feed=feed, model="latest")
        assert findings(files.writes_exactly_the_served_rules, latest) == []
        assert findings(files.leaves_no_partial_or_corrupt_file, latest) == []
        assert findings(files.misses_nothing_across_runs, latest) == []  # the union: A and B
        assert findings(checks.fetches_nothing_twice, latest) == []
        assert infer_file_model([latest]) == "latest"
        # The same files judged as "every rule so far" fail where the file holds only a delta.
        accumulate = replace(latest, file_model="accumulate")
        found = findings(files.writes_exactly_the_served_rules, accumulate)
        assert len(found) == 2
        assert "'accumulate'" in found[0].message
        assert found[0].received == f"{len(empty)} bytes"


def test_latest_file_model_still_bites() -> None:
    feed = texts(RULE_A, RULE_B)
    since = {"since": ["2026-01-01T00:00:00Z"]}
    # An empty 200 that was not the right answer (the rules were due) must not empty the file.
    cut = outcome(
        run(exchange(delivered=texts(RULE_A)), after=RULE_A.encode()),
        run(exchange(query=since, delivered=None), index=1, before=RULE_A.encode(), after=b""),
        feed=feed, model="latest",
    )  # fmt: skip
    assert len(findings(files.writes_exactly_the_served_rules, cut)) == 1
    assert len(findings(files.leaves_no_partial_or_corrupt_file, cut)) == 1
    # A failed run keeps the last good delta: its rules are still what the file should hold.
    kept = outcome(
        run(exchange(delivered=texts(RULE_A)), after=RULE_A.encode()),
        run(exchange(status=503), index=1, expect="failure", code=4, before=RULE_A.encode(),
            after=RULE_A.encode()),
        feed=texts(RULE_A), model="latest",
    )  # fmt: skip
    assert findings(files.writes_exactly_the_served_rules, kept) == []
    assert kept.expected_file(1) == texts(RULE_A)
    # A delta client that loses a run's rules misses them, union or not.
    lost = _delta_runs(b"")
    lossy = outcome(lost[0], lost[1], replace(lost[2], after=b""), feed=feed, model="latest")
    assert "1 of the feed's 2 rules" in findings(files.misses_nothing_across_runs, lossy)[0].message


def test_file_model_inference() -> None:
    accumulating = outcome(
        run(exchange(delivered=texts(RULE_A)), after=RULE_A.encode()),
        run(exchange(delivered=texts(RULE_B)), index=1, after=(RULE_A + "---\n" + RULE_B).encode()),
    )  # fmt: skip
    assert infer_file_model([accumulating]) == "accumulate"
    single = outcome(run(exchange(delivered=texts(RULE_A)), after=RULE_A.encode()))
    assert infer_file_model([single]) is None  # one run: both models expect the same file
    latest = outcome(*_delta_runs(b""))
    assert infer_file_model([accumulating, latest, latest]) == "latest"  # the majority


def test_client_checks_with_nothing_to_judge_skip() -> None:
    silent = outcome(run(code=0), run(index=1, code=0))  # no request, no file
    for check in (
        checks.sends_the_key_in_a_header,
        checks.sends_only_documented_parameters,
        checks.fetches_nothing_twice,
        files.leaves_no_partial_or_corrupt_file,
        files.writes_exactly_the_served_rules,
    ):
        with pytest.raises(SkipCheck):
            findings(check, silent)
    with pytest.raises(SkipCheck, match="no rule"):
        findings(files.misses_nothing_across_runs, outcome(run(), feed={}))
    # A client that sends nothing yet writes a file is judged (and fails).
    scribbler = outcome(run(code=0, after=b"not rules"))
    assert len(findings(files.leaves_no_partial_or_corrupt_file, scribbler)) == 1
