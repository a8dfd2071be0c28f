"""The human report, JSON and JUnit XML renderings of a run."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from xml.etree import ElementTree as ET

import pytest

from conformance.findings import Finding, Reproduction, Severity
from conformance.report import SHOWN_PER_CHECK, render_json, render_junit, render_text
from conformance.results import CheckResult, CompileMatrix, RunResult


def _run() -> RunResult:
    repro = Reproduction(
        curl="curl -H 'Authorization: Bearer sk_live_…abcd' 'http://127.0.0.1:8000/api/v1/iocs/sigma'",
        seed=1234,
        document="title: x\n" + "".join(f"line{i}: {i}\n" for i in range(100)),
        document_index=7,
        source="rules.yml",
    )
    failures = [
        Finding(
            "id_is_uuid",
            f"id {i} is not a UUID",
            received=str(i),
            expected="a UUID",
            reproduction=Reproduction(document_index=i, document="id: x\n"),
        )
        for i in range(SHOWN_PER_CHECK + 4)
    ]
    matrix = CompileMatrix(
        targets=["splunk+sysmon", "kusto+sentinel_asim"], required=["splunk+sysmon"]
    )
    matrix.cell("domain", "splunk+sysmon").ok = 3
    matrix.cell("domain", "kusto+sentinel_asim").failed = 3
    return RunResult(
        mode="rules",
        subject="rules.yml",
        seed=1234,
        strict=False,
        checks=[
            CheckResult("body_is_utf8_yaml", "collection", "UTF-8 YAML", judged=1),
            CheckResult(
                "detection_value_is_literal_ioc",
                "document",
                "literal IOC",
                findings=[
                    Finding(
                        "detection_value_is_literal_ioc",
                        "defanged",
                        received="203.0.113[.]42",
                        expected="203.0.113.42",
                        reproduction=repro,
                    )
                ],
            ),
            CheckResult("id_is_uuid", "document", "UUID ids", findings=failures),
            CheckResult(
                "rules_compile_on_advisory_targets",
                "compile",
                "advisory",
                findings=[
                    Finding(
                        "rules_compile_on_advisory_targets",
                        "no table",
                        severity=Severity.WARNING,
                        target="kusto+sentinel_asim",
                    )
                ],
            ),
            CheckResult("filters", "server", "skipped one", skips=["no JSON sibling"]),
        ],
        matrix=matrix,
    )


def test_text_report_has_table_matrix_and_reproduction() -> None:
    text = render_text(_run())
    assert re.search(r"detection_value_is_literal_ioc +document +failed +1 +0", text)
    assert "splunk+sysmon (required)" in text
    assert "0/3 ok (3 FAIL)" in text
    assert "received: 203.0.113[.]42" in text
    assert "expected: 203.0.113.42" in text
    assert "reproduce: curl" in text
    assert "seed: 1234" in text
    assert "| line0: 0" in text
    assert "more lines" in text
    assert f"and 4 more (documents {SHOWN_PER_CHECK + 1}, " in text  # grouped, from 1
    assert "NOT CONFORMANT" in text
    assert "1 skipped" in text
    assert "sk_live_…abcd" in text


def test_json_report_keeps_every_finding() -> None:
    data = json.loads(render_json(_run()))
    assert data["exit_code"] == 1
    checks = {c["name"]: c for c in data["checks"]}
    assert len(checks["id_is_uuid"]["findings"]) == SHOWN_PER_CHECK + 4
    assert checks["rules_compile_on_advisory_targets"]["status"] == "warning"
    assert (
        checks["detection_value_is_literal_ioc"]["findings"][0]["reproduction"]["document_index"]
        == 7
    )
    assert {"type": "domain", "target": "kusto+sentinel_asim", "ok": 0, "failed": 3} in data[
        "matrix"
    ]["cells"]


def test_junit_has_one_testcase_per_check() -> None:
    root = ET.fromstring(render_junit(_run()))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "2"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["id_is_uuid"].find("failure") is not None
    assert cases["body_is_utf8_yaml"].find("failure") is None
    assert cases["filters"].find("skipped") is not None


def test_conformant_run_says_so() -> None:
    run = RunResult(
        mode="rules",
        subject="x",
        seed=None,
        strict=True,
        checks=[CheckResult("a", "document", "a", judged=1)],
    )
    assert "CONFORMANT: 1 passed" in render_text(run)
    assert run.exit_code() == 0


def test_documents_are_numbered_from_1_with_their_line() -> None:
    run = _run()
    first = run.checks[1].findings[0]
    run.checks[1].findings[0] = first.with_reproduction(line=150)
    text = render_text(run, width=100)
    assert "rules.yml:150, document 8" in text
    data = json.loads(render_json(run))
    repro = data["checks"][1]["findings"][0]["reproduction"]
    assert (repro["document_index"], repro["line"]) == (7, 150)


def test_skip_reasons_are_in_the_text_report() -> None:
    text = render_text(_run(), width=100)
    assert "skipped (no JSON sibling): filters" in text


def test_lines_are_wrapped_to_the_width_and_curl_lines_still_paste() -> None:
    import shlex

    run = _run()
    long_curl = (
        "curl -H 'Authorization: Bearer sk_live_…abcd' -H 'X-Mock-Fault: latency:2s' "
        "'http://127.0.0.1:8000/api/v1/iocs/sigma?type=domain&confidence=high&limit=10'"
    )
    finding = run.checks[1].findings[0]
    run.checks[1].findings[0] = replace(
        finding.with_reproduction(curl=long_curl), received="x " * 200
    )
    text = render_text(run, width=60)
    after_the_table = text[text.index("skipped (") :]
    for line in after_the_table.splitlines():
        # Only a single unbreakable word (the URL) may pass the width.
        assert len(line) <= 60 or " " not in line.strip(), line
    received = [line for line in text.splitlines() if "x x x" in line]
    assert len(received) > 3  # wrapped, not clipped to one 428-character line
    assert all(len(line) <= 60 for line in received)
    start = text.index("reproduce: ")
    block = []
    for line in text[start:].splitlines():
        block.append(line.removesuffix(" \\"))
        if not line.endswith(" \\"):
            break
    assert len(block) > 1
    pasted = " ".join(block).removeprefix("reproduce: ").strip()
    assert shlex.split(pasted) == shlex.split(long_curl)


def test_a_wide_matrix_is_split_into_tables_that_fit() -> None:
    text = render_text(_run(), width=50)
    matrix = text[text.index("compile matrix") : text.index("detection_value_is_literal_ioc:")]
    assert all(len(line) <= 50 for line in matrix.splitlines())
    assert "splunk+sysmon (required)" in matrix
    assert "kusto+sentinel_asim" in matrix


def test_not_a_terminal_means_100_columns_unless_columns_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from conformance.report import report_width

    monkeypatch.delenv("COLUMNS", raising=False)
    assert report_width(io.StringIO()) == 100
    monkeypatch.setenv("COLUMNS", "180")
    assert report_width(io.StringIO()) == 180
    monkeypatch.setenv("COLUMNS", "not-a-number")
    assert report_width(io.StringIO()) == 100


def test_junit_test_cases_carry_their_time() -> None:
    run = _run()
    run.checks[2].seconds = 1.25
    run.seconds = 4.5
    root = ET.fromstring(render_junit(run))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("time") == "4.500"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["id_is_uuid"].get("time") == "1.250"
    assert cases["filters"].get("time") == "0.000"


def test_the_runner_times_each_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    from conformance import runner
    from conformance.findings import SkipCheck
    from conformance.registry import CheckSpec

    ticks = itertools.count(0.0, 0.5)
    monkeypatch.setattr(runner.time, "perf_counter", lambda: next(ticks))

    def judge(subject: int) -> None:
        if subject:
            raise SkipCheck("odd")

    spec = CheckSpec(name="c", scope="document", func=judge, description="d")
    result = runner.new_result(spec)
    for subject in (0, 1):
        runner.run_check(spec, subject, result)
    assert result.seconds == 1.0  # two subjects, half a tick each, skipped ones too


def _variants() -> list[RunResult]:
    """Runs whose reports differ in shape: every corner the piecewise writers must get right."""
    full = _run()
    odd = _run()  # non-ASCII, markup and a key-like string in what the reports quote
    odd.checks[1].findings[0] = replace(
        odd.checks[1].findings[0],
        message='défanged <b>&</b> "quoted" ]]> sk_live_…abcd',
        received="line\nbreak\ttab 🦊",
    )
    odd.subject = "règles <1>.yml"
    empty_findings = _run()
    empty_findings.checks = [c for c in empty_findings.checks if not c.findings]
    no_checks = RunResult(mode="rules", subject="x", seed=None, strict=False)
    broken = RunResult(mode="server", subject="http://127.0.0.1:1", seed=7, strict=True)
    broken.harness_error = "unreachable <no route>"
    interrupted = _run()
    interrupted.interrupted, interrupted.matrix = True, None
    return [full, odd, empty_findings, no_checks, broken, interrupted]


@pytest.mark.parametrize("number", range(6))
def test_the_piecewise_writers_write_what_the_whole_renderers_do(number: int) -> None:
    from conformance.report import json_pieces, junit_pieces, to_json

    run = _variants()[number]
    pieces = list(json_pieces(run))
    assert "".join(pieces) == render_json(run)
    assert json.loads("".join(pieces)) == to_json(run)
    # One finding at most per piece: the writer never holds the whole report.
    assert len(pieces) >= sum(len(c.findings) for c in run.checks)
    assert "".join(junit_pieces(run)) == render_junit(run)
    ET.fromstring("".join(junit_pieces(run)))  # still well-formed XML


def test_the_piecewise_writers_match_on_a_real_corpus_with_findings() -> None:
    """A small real run (vendor rules with defects, a general rule, a YAML error)."""
    from conformance.report import json_pieces, junit_pieces
    from conformance.rules.documents import parse_body
    from conformance.rules.run import RuleCheckOptions, check_rulesets
    from tests.conformance.rule_samples import body, many_rules, sample_rule

    raw = body(
        *many_rules(12),
        sample_rule("url", "http://evil.example/a?b=c", escape=False, title="Ünïcode <url>"),
        sample_rule(),
        sample_rule(),  # a duplicate id
        "title: [unclosed\n",
    )
    options = RuleCheckOptions(targets=("splunk+sysmon",), required_targets=(), workers=1)
    run = RunResult(mode="rules", subject="rules.yml", seed=None, strict=False)
    run.checks, run.matrix = check_rulesets([parse_body(raw, source="rules.yml")], options)
    assert sum(len(c.findings) for c in run.checks) > 3
    assert "".join(json_pieces(run)) == render_json(run)
    assert "".join(junit_pieces(run)) == render_junit(run)
