"""The human report, JSON and JUnit XML renderings of a run."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

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
    assert f"and 4 more (documents {SHOWN_PER_CHECK}, " in text  # grouped repeats
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
