"""Rendering a run: the human report, JSON (``--json``) and JUnit XML (``--junitxml``).

Repeated findings of one check are grouped: the first few are shown in full (received,
expected, reproduction with the offending document, truncated), then "and K more".
Nothing here ever sees an API key: reproductions carry curl lines redacted upstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

from conformance.findings import Finding, Severity
from conformance.results import CheckResult, CompileMatrix, RunResult, Status

#: How many findings of one check the human report shows in full.
SHOWN_PER_CHECK = 3
#: Lines of an offending document shown before truncating.
DOCUMENT_LINES = 30
_CLIP = 300
_VERDICTS = {0: "CONFORMANT", 1: "NOT CONFORMANT", 3: "COULD NOT TEST"}
_DIFF_VERDICTS = {0: "EQUIVALENT", 1: "DIFFERENT", 3: "COULD NOT TEST"}


def _clip(text: str, limit: int = _CLIP) -> str:
    """One value on one line, shortened to ``limit`` characters with a marker."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more chars)"


def _document_excerpt(document: str) -> list[str]:
    lines = document.rstrip("\n").splitlines() or [""]
    # Indentation is YAML structure: keep it; only shorten very long lines.
    shown = [
        line if len(line) <= 160 else line[:160] + f"… ({len(line) - 160} more chars)"
        for line in lines[:DOCUMENT_LINES]
    ]
    if len(lines) > DOCUMENT_LINES:
        shown.append(f"… ({len(lines) - DOCUMENT_LINES} more lines)")
    return shown


def _finding_lines(finding: Finding, *, strict: bool) -> Iterator[str]:
    severity = finding.effective(strict=strict).value.upper()
    repro = finding.reproduction
    where = []
    if repro.source:
        where.append(repro.source + (f":{repro.line}" if repro.line is not None else ""))
    if repro.document_index is not None:
        where.append(f"document {repro.document_index}")
    if repro.rule:
        where.append(f"rule {repro.rule}")
    if finding.target:
        where.append(f"target {finding.target}")
    yield f"  [{severity}] {_clip(finding.message)}" + (f"  ({', '.join(where)})" if where else "")
    # A diff's finding compares side A (received) with side B (expected), a curl line each.
    both = repro.curl_b is not None
    if finding.received is not None:
        yield f"    {'' if both else 'received: '}{_clip(finding.received)}"
    if finding.expected is not None:
        yield f"    {'' if both else 'expected: '}{_clip(finding.expected)}"
    if repro.curl:
        yield f"    reproduce{' A' if both else ''}: {repro.curl}"
    if repro.curl_b:
        yield f"    reproduce B: {repro.curl_b}"
    if repro.seed is not None:
        yield f"    seed: {repro.seed}"
    if repro.document is not None and finding.effective(strict=strict) is Severity.FAILURE:
        yield "    document:"
        yield from (f"      | {line}" for line in _document_excerpt(repro.document))


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in out]


def _check_table(result: RunResult) -> list[str]:
    rows = [["check", "scope", "status", "failures", "warnings"]]
    for c in result.checks:
        failures, warnings = _severity_counts(c, strict=result.strict)
        status = c.status(strict=result.strict).value
        rows.append([c.name, c.scope, status, str(failures), str(warnings)])
    return _table(rows)


def _severity_counts(c: CheckResult, *, strict: bool) -> tuple[int, int]:
    failures = sum(f.effective(strict=strict) is Severity.FAILURE for f in c.findings)
    return failures, len(c.findings) - failures


def matrix_lines(matrix: CompileMatrix) -> list[str]:
    """The compile matrix: IOC type x target, ``ok/total`` per cell, required targets marked."""
    header = [matrix.rows] + [
        matrix.label(t) + (" (required)" if t in matrix.required else "") for t in matrix.targets
    ]
    rows = [header]
    for ioc_type in matrix.types():
        row = [ioc_type]
        for target in matrix.targets:
            cell = matrix.cells.get((ioc_type, target))
            if cell is None:
                row.append("-")
            else:
                total = cell.ok + cell.failed
                row.append(
                    f"{cell.ok}/{total} ok" + (f" ({cell.failed} FAIL)" if cell.failed else "")
                )
        rows.append(row)
    return _table(rows)


def render_text(result: RunResult) -> str:
    """The human report."""
    counts = result.counts()
    lines = [f"soc-conformance {result.mode}: {result.subject}"]
    if result.seed is not None:
        lines.append(f"seed: {result.seed}")
    if result.harness_error:
        lines.append(f"COULD NOT TEST: {result.harness_error}")
    if result.checks:
        lines += ["", *_check_table(result)]
    if result.matrix is not None and result.matrix.cells:
        lines += ["", f"compile matrix (rules that compiled / rules of that {result.matrix.rows}):"]
        lines += _matrix_indent(matrix_lines(result.matrix))
    for c in result.checks:
        if not c.findings:
            continue
        status = c.status(strict=result.strict).value.upper()
        lines += ["", f"{c.name}: {status} ({len(c.findings)} finding(s)) - {c.description}"]
        for finding in c.findings[:SHOWN_PER_CHECK]:
            lines += list(_finding_lines(finding, strict=result.strict))
        if len(c.findings) > SHOWN_PER_CHECK:
            rest = c.findings[SHOWN_PER_CHECK:]
            indexes = [
                str(f.reproduction.document_index)
                for f in rest
                if f.reproduction.document_index is not None
            ]
            more = f"  and {len(rest)} more"
            if indexes:
                tail = ", …" if len(indexes) > 20 else ""
                more += f" (documents {', '.join(indexes[:20])}{tail})"
            lines.append(more)
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items())
    verdicts = _DIFF_VERDICTS if result.mode == "diff" else _VERDICTS
    verdict = verdicts[result.exit_code()]
    lines += ["", f"{verdict}: {summary}" + (" (strict)" if result.strict else "")]
    return "\n".join(lines) + "\n"


def _matrix_indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


def _finding_dict(finding: Finding, *, strict: bool) -> dict[str, Any]:
    repro = finding.reproduction
    return {
        "check": finding.check,
        "message": finding.message,
        "severity": finding.effective(strict=strict).value,
        "documented": finding.documented,
        "received": finding.received,
        "expected": finding.expected,
        "target": finding.target,
        "reproduction": {
            "curl": repro.curl,
            "curl_b": repro.curl_b,
            "seed": repro.seed,
            "source": repro.source,
            "document_index": repro.document_index,
            "line": repro.line,
            "rule": repro.rule,
            "document": repro.document,
        },
    }


def to_json(result: RunResult) -> dict[str, Any]:
    """The run as a JSON-ready dict (every finding, nothing grouped)."""
    matrix = None
    if result.matrix is not None:
        matrix = {
            "targets": result.matrix.targets,
            "required": result.matrix.required,
            "rows": result.matrix.rows,
            "aliases": result.matrix.aliases,
            "cells": [
                {"type": t, "target": target, "ok": cell.ok, "failed": cell.failed}
                for (t, target), cell in sorted(result.matrix.cells.items())
            ],
        }
    return {
        "mode": result.mode,
        "subject": result.subject,
        "seed": result.seed,
        "strict": result.strict,
        "exit_code": result.exit_code(),
        "harness_error": result.harness_error,
        "requests_made": result.requests_made,
        "counts": {s.value: n for s, n in result.counts().items()},
        "checks": [
            {
                "name": c.name,
                "scope": c.scope,
                "description": c.description,
                "status": c.status(strict=result.strict).value,
                "skip_reason": c.skip_reason,
                "findings": [_finding_dict(f, strict=result.strict) for f in c.findings],
            }
            for c in result.checks
        ],
        "matrix": matrix,
    }


def render_json(result: RunResult) -> str:
    """The run as JSON text."""
    return json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"


def render_junit(result: RunResult) -> str:
    """JUnit XML: one testcase per check; failures as ``<failure>``, skips as ``<skipped>``."""
    counts = result.counts()
    suite = ET.Element(
        "testsuite",
        name=f"soc-conformance {result.mode}",
        tests=str(len(result.checks)),
        failures=str(counts[Status.FAILED]),
        errors="1" if result.harness_error else "0",
        skipped=str(counts[Status.SKIPPED]),
    )
    if result.harness_error:
        case = ET.SubElement(suite, "testcase", classname=result.mode, name="harness")
        ET.SubElement(case, "error", message=result.harness_error)
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"{result.mode}.{c.scope}", name=c.name)
        status = c.status(strict=result.strict)
        detail = "\n".join(
            line for f in c.findings for line in _finding_lines(f, strict=result.strict)
        )
        if status is Status.FAILED:
            failure = ET.SubElement(case, "failure", message=c.findings[0].message[:_CLIP])
            failure.text = detail
        elif status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=c.skip_reason or "")
        elif status is Status.WARNING:
            ET.SubElement(case, "system-out").text = detail
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
