"""Rendering a run: the human report, JSON (``--json``) and JUnit XML (``--junitxml``).

Repeated findings of one check are grouped: the first few are shown in full (received,
expected, reproduction with the offending document, truncated), then "and K more".
Nothing here ever sees an API key: reproductions carry curl lines redacted upstream.

Over 300 lines: three formats of one result, which must say the same thing, side by side.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape as xml_escape

from conformance.findings import Finding, Severity
from conformance.results import CheckResult, CompileMatrix, RunResult, Status

#: How many findings of one check the human report shows in full.
SHOWN_PER_CHECK = 3
#: Lines of an offending document shown before truncating.
DOCUMENT_LINES = 30
_CLIP = 300
#: The text report's width when standard output is not a terminal.
DEFAULT_WIDTH = 100
_VERDICTS = {0: "CONFORMANT", 1: "NOT CONFORMANT", 3: "COULD NOT TEST", 130: "INTERRUPTED"}
_DIFF_VERDICTS = {0: "EQUIVALENT", 1: "DIFFERENT", 3: "COULD NOT TEST", 130: "INTERRUPTED"}


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


def document_label(index: int, line: int | None) -> str:
    """A document as people count: from 1, with the line where it starts when known."""
    return f"document {index + 1}" + (f" (line {line})" if line is not None else "")


def finding_lines(finding: Finding, *, strict: bool) -> Iterator[str]:
    """One finding as the text report shows it (also the pytest plugin's failure text)."""
    severity = finding.effective(strict=strict).value.upper()
    repro = finding.reproduction
    where = []
    if repro.source:
        where.append(repro.source + (f":{repro.line}" if repro.line is not None else ""))
    if repro.document_index is not None:
        # The line goes beside the file when there is one ("rules.yml:155"), else here.
        shown_line = repro.line if not repro.source else None
        where.append(document_label(repro.document_index, shown_line))
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


def matrix_lines(matrix: CompileMatrix, width: int | None = None) -> list[str]:
    """The compile matrix: IOC type x target, ``ok/total`` per cell, required targets marked.

    With a ``width``, targets that do not fit beside each other go into further tables below,
    each with the type column again.
    """
    if width is not None and len(matrix.targets) > 1:
        groups: list[list[str]] = [[]]
        for target in matrix.targets:
            trial = replace(matrix, targets=[*groups[-1], target])
            if groups[-1] and max(map(len, matrix_lines(trial))) > width:
                groups.append([target])
            else:
                groups[-1].append(target)
        if len(groups) > 1:
            out: list[str] = []
            for group in groups:
                out += ([""] if out else []) + matrix_lines(replace(matrix, targets=group))
            return out
    header = [matrix.rows] + [
        matrix.label(t) + (" (required)" if t in matrix.required else "") for t in matrix.targets
    ]
    rows = [header]
    for ioc_type in sorted({row for row, _ in matrix.cells}):
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


def report_width(stream: object = None) -> int:
    """``COLUMNS`` when set (as most command-line tools read it: ``COLUMNS=200`` keeps CI logs
    unwrapped), else the terminal's width when ``stream`` (default: standard output) is one,
    else 100."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(40, int(columns))
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return DEFAULT_WIDTH


def render_text(result: RunResult, *, width: int | None = None) -> str:
    """The human report, its lines wrapped to ``width`` (default: :func:`report_width`)."""
    width = report_width() if width is None else width
    lines = [
        line
        for raw in _text_lines(result, width)
        for line in ([raw[1:]] if raw.startswith(_KEEP) else wrap_line(raw, width))
    ]
    return "\n".join(lines) + "\n"


#: Marks a table line: tables are laid out to the width already, never re-flowed.
_KEEP = "\x00"


def _text_lines(result: RunResult, width: int) -> list[str]:
    counts = result.counts()
    lines = [f"soc-conformance {result.mode}: {result.subject}"]
    if result.seed is not None:
        lines.append(f"seed: {result.seed}")
    if result.harness_error:
        lines.append(f"COULD NOT TEST: {result.harness_error}")
    if result.checks:
        lines += ["", *(_KEEP + line for line in _check_table(result))]
    lines += _skip_lines(result)
    if result.matrix is not None and result.matrix.cells:
        lines += ["", f"compile matrix (rules that compiled / rules of that {result.matrix.rows}):"]
        lines += [_KEEP + line for line in _matrix_indent(matrix_lines(result.matrix, width - 2))]
    for c in result.checks:
        if not c.findings:
            continue
        status = c.status(strict=result.strict).value.upper()
        lines += ["", f"{c.name}: {status} ({len(c.findings)} finding(s)) - {c.description}"]
        for finding in c.findings[:SHOWN_PER_CHECK]:
            lines += list(finding_lines(finding, strict=result.strict))
        if len(c.findings) > SHOWN_PER_CHECK:
            rest = c.findings[SHOWN_PER_CHECK:]
            indexes = list(
                dict.fromkeys(
                    str(f.reproduction.document_index + 1)
                    for f in rest
                    if f.reproduction.document_index is not None
                )
            )
            more = f"  and {len(rest)} more"
            if indexes:
                tail = ", …" if len(indexes) > 20 else ""
                more += f" (documents {', '.join(indexes[:20])}{tail})"
            lines.append(more)
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items())
    if result.rules_judged is not None:
        summary += f"; {result.rules_judged} rule(s) judged"
    if result.interrupted:
        summary += " (partial: the run was interrupted)"
    verdicts = _DIFF_VERDICTS if result.mode == "diff" else _VERDICTS
    verdict = verdicts[result.exit_code()]
    lines += ["", f"{verdict}: {summary}" + (" (strict)" if result.strict else "")]
    return lines


def wrap_line(line: str, width: int) -> list[str]:
    """One report line as lines of at most ``width`` characters where it can be cut.

    Curl lines are cut between shell words with a `` \\`` continuation, so they still paste
    into a shell; document excerpts (``| ...``) are clipped, not re-flowed (indentation is
    YAML structure); other text wraps under its own indentation. A single word longer than
    the width (a URL) stays whole.
    """
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    if body.startswith("| "):
        keep = max(10, width - 12)
        return [line[:keep] + f"… (+{len(line) - keep})"]
    label, _, rest = body.partition(": ")
    if label.startswith("reproduce") and rest.startswith("curl "):
        return _wrap_shell(f"{indent}{label}: ", rest, width)
    if not rest or len(label) > 20:
        label, rest = "", body
    else:
        label += ": "
    hanging = indent + " " * (len(label) if label and len(label) <= 12 else 4)
    return textwrap.wrap(
        rest,
        width=width,
        initial_indent=indent + label,
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [line]


def _wrap_shell(prefix: str, command: str, width: int) -> list[str]:
    """A shell command cut between its words, each line but the last ending in `` \\``."""
    try:
        words = [shlex.quote(w) for w in shlex.split(command)]
    except ValueError:
        return [prefix + command]
    hanging = " " * (len(prefix) - len(prefix.lstrip()) + 4)
    lines, current = [], prefix + words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) + 2 > width:
            lines.append(current + " \\")
            current = hanging + word
        else:
            current += " " + word
    return [*lines, current]


def _skip_lines(result: RunResult) -> list[str]:
    """Why checks were skipped: one line per reason, naming its checks."""
    by_reason: dict[str, list[str]] = {}
    for c in result.checks:
        if c.skip_reason is not None:
            by_reason.setdefault(c.skip_reason, []).append(c.name)
    lines = [f"skipped ({_clip(why, 160)}): {', '.join(names)}" for why, names in by_reason.items()]
    return ["", *lines] if lines else []


def _matrix_indent(lines: list[str]) -> list[str]:
    return ["  " + line if line else "" for line in lines]


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


def _json_head(result: RunResult) -> dict[str, Any]:
    """The JSON report's keys before ``checks`` and ``matrix`` (in report order)."""
    return {
        "mode": result.mode,
        "subject": result.subject,
        "seed": result.seed,
        "strict": result.strict,
        "exit_code": result.exit_code(),
        "harness_error": result.harness_error,
        "requests_made": result.requests_made,
        "max_requests": result.max_requests,
        "seconds": result.seconds,
        "rules_judged": result.rules_judged,
        "interrupted": result.interrupted,
        "counts": {s.value: n for s, n in result.counts().items()},
    }


def _check_head(c: CheckResult, *, strict: bool) -> dict[str, Any]:
    """One check's JSON keys before its ``findings``."""
    return {
        "name": c.name,
        "scope": c.scope,
        "description": c.description,
        "status": c.status(strict=strict).value,
        "skip_reason": c.skip_reason,
        "seconds": round(c.seconds, 6),
    }


def _matrix_json(matrix: CompileMatrix | None) -> dict[str, Any] | None:
    if matrix is None:
        return None
    return {
        "targets": matrix.targets,
        "required": matrix.required,
        "rows": matrix.rows,
        "aliases": matrix.aliases,
        "cells": [
            {"type": t, "target": target, "ok": cell.ok, "failed": cell.failed}
            for (t, target), cell in sorted(matrix.cells.items())
        ],
    }


def to_json(result: RunResult) -> dict[str, Any]:
    """The run as a JSON-ready dict (every finding, nothing grouped)."""
    strict = result.strict
    return {
        **_json_head(result),
        "checks": [
            {
                **_check_head(c, strict=strict),
                "findings": [_finding_dict(f, strict=strict) for f in c.findings],
            }
            for c in result.checks
        ],
        "matrix": _matrix_json(result.matrix),
    }


def render_json(result: RunResult) -> str:
    """The run as JSON text (one string: :func:`json_pieces` writes the same text in pieces)."""
    return json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"


#: Serializes like ``json.dumps(..., indent=2, ensure_ascii=False)``.
_JSON = json.JSONEncoder(indent=2, ensure_ascii=False)


def _nested(value: Any, level: int) -> str:
    """``value`` as JSON text placed ``level`` levels deep in an indented document: its lines
    after the first indented by ``2 * level`` spaces (strings never hold a raw newline, so every
    newline of the text is layout)."""
    return _JSON.encode(value).replace("\n", "\n" + "  " * level)


def json_pieces(result: RunResult) -> Iterator[str]:
    """The text of :func:`render_json`, in pieces of at most one finding each, so a report with
    tens of thousands of findings is written without holding it (or its dict) whole."""
    strict = result.strict
    head = _nested(_json_head(result), 0)
    yield head[: -len("\n}")] + ',\n  "checks": '
    for number, c in enumerate(result.checks):
        check = _nested(_check_head(c, strict=strict), 2)
        yield ("[" if number == 0 else ",") + "\n    " + check[: -len("\n    }")]
        yield ',\n      "findings": '
        for position, finding in enumerate(c.findings):
            text = _nested(_finding_dict(finding, strict=strict), 4)
            yield ("[" if position == 0 else ",") + "\n        " + text
        yield "\n      ]\n    }" if c.findings else "[]\n    }"
    yield "\n  ]" if result.checks else "[]"
    yield ',\n  "matrix": ' + _nested(_matrix_json(result.matrix), 1) + "\n}\n"


def _run_seconds(result: RunResult) -> float:
    """The run's time, or the checks' when the run was not timed as a whole."""
    return result.seconds if result.seconds is not None else sum(c.seconds for c in result.checks)


def _junit_suite(result: RunResult) -> ET.Element:
    """The ``testsuite`` element, without its test cases."""
    counts = result.counts()
    return ET.Element(
        "testsuite",
        name=f"soc-conformance {result.mode}",
        tests=str(len(result.checks)),
        failures=str(counts[Status.FAILED]),
        errors=str(bool(result.harness_error) + result.interrupted),
        skipped=str(counts[Status.SKIPPED]),
        time=f"{_run_seconds(result):.3f}",
    )


def _junit_errors(result: RunResult) -> Iterator[ET.Element]:
    """The test cases that stand for the run's own trouble (harness error, interruption)."""
    if result.harness_error:
        case = ET.Element("testcase", classname=result.mode, name="harness")
        ET.SubElement(case, "error", message=result.harness_error)
        yield case
    if result.interrupted:
        case = ET.Element("testcase", classname=result.mode, name="interrupted")
        ET.SubElement(case, "error", message="interrupted: a partial report")
        yield case


def _junit_case(result: RunResult, c: CheckResult) -> tuple[ET.Element, ET.Element | None]:
    """A check's test case, and the element of it whose text is every finding's lines
    (``failure`` or ``system-out``; None when there is none), that text not filled in."""
    case = ET.Element(
        "testcase", classname=f"{result.mode}.{c.scope}", name=c.name, time=f"{c.seconds:.3f}"
    )
    status = c.status(strict=result.strict)
    holder = None
    if status is Status.FAILED:
        holder = ET.SubElement(case, "failure", message=c.findings[0].message[:_CLIP])
    elif status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=c.skip_reason or "")
    elif status is Status.WARNING:
        holder = ET.SubElement(case, "system-out")
    return case, holder


def _junit_details(c: CheckResult, *, strict: bool) -> Iterator[str]:
    """Each finding's lines (joined by newlines, as are the findings)."""
    for finding in c.findings:
        yield "\n".join(finding_lines(finding, strict=strict))


def render_junit(result: RunResult) -> str:
    """JUnit XML: one testcase per check; failures as ``<failure>``, skips as ``<skipped>``.
    (One string: :func:`junit_pieces` writes the same text in pieces.)"""
    suites = ET.Element("testsuites")
    suite = _junit_suite(result)
    suites.append(suite)
    suite.extend(_junit_errors(result))
    for c in result.checks:
        case, holder = _junit_case(result, c)
        if holder is not None:
            holder.text = "\n".join(_junit_details(c, strict=result.strict))
        suite.append(case)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def junit_pieces(result: RunResult) -> Iterator[str]:
    """The text of :func:`render_junit`, in pieces of at most one finding each (a check's
    details are escaped finding by finding, never joined into one text)."""
    errors = list(_junit_errors(result))
    if not errors and not result.checks:
        yield render_junit(result)  # an empty suite: nothing to stream
        return
    suites = ET.Element("testsuites")
    suite = _junit_suite(result)
    suites.append(suite)
    ET.SubElement(suite, "cases")  # where the test cases go
    before, _, after = ET.tostring(suites, encoding="unicode", xml_declaration=True).rpartition(
        "<cases />"
    )
    yield before
    yield from (ET.tostring(case, encoding="unicode") for case in errors)
    for c in result.checks:
        case, holder = _junit_case(result, c)
        if holder is None:
            yield ET.tostring(case, encoding="unicode")
            continue
        holder.text = "x"  # a stand-in, cut off below
        closing = f"</{holder.tag}></testcase>"
        yield ET.tostring(case, encoding="unicode").removesuffix("x" + closing)
        for number, text in enumerate(_junit_details(c, strict=result.strict)):
            yield ("\n" if number else "") + xml_escape(text)
        yield closing
    yield after + "\n"
