"""``--html PATH``: the run as one self-contained HTML page, to look at rather than read.

One file, no script, no network: the style sheet is inline and nothing is fetched (no CDN,
no font, no image), so the page opens the same from a CI artefact, a mail attachment or a
laptop offline. It shows the verdict; the run's seed, request budget and timings; every
check (status, time, why it was skipped); the compile matrix as a coloured grid whose failing
cells link to the findings of that target; and each failing or warning check with its
findings, their reproduction (curl line, seed) and the offending documents.

Every text from the run passes through :func:`html.escape` (a hostile server's body or rule
is shown, never interpreted). Keys never reach this module unredacted; the command still
passes the page through the run's scrubber, like every other output.

Just over 300 lines: the inline style sheet and the page's sections, in the order they show.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from conformance.findings import Finding, Severity
from conformance.report import document_label
from conformance.results import CheckResult, CompileMatrix, RunResult, Status

#: Findings of one check shown in full; the rest get one line each, up to ``LISTED``.
SHOWN_IN_FULL = 25
LISTED = 500
#: Lines of an offending document shown.
DOCUMENT_LINES = 200

_VERDICTS = {0: "CONFORMANT", 1: "NOT CONFORMANT", 3: "COULD NOT TEST"}
_DIFF_VERDICTS = {0: "EQUIVALENT", 1: "DIFFERENT", 3: "COULD NOT TEST"}
_VERDICT_CLASS = {0: "ok", 1: "fail", 3: "error"}

_STYLE = """
:root { --ok:#1a7f37; --ok-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9; --warn:#9a6700;
  --warn-bg:#fff8c5; --skip:#57606a; --skip-bg:#eaeef2; --line:#d0d7de; --ink:#1f2328; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0 auto; max-width: 1200px; padding: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
code, pre, .mono { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
.subject { color: var(--skip); margin: 0 0 12px; word-break: break-all; }
.verdict { display: inline-block; font-weight: 700; font-size: 20px; padding: 6px 14px;
  border-radius: 6px; }
.verdict.ok { background: var(--ok-bg); color: var(--ok); border: 1px solid var(--ok); }
.verdict.fail { background: var(--fail-bg); color: var(--fail); border: 1px solid var(--fail); }
.verdict.error { background: var(--warn-bg); color: var(--warn); border: 1px solid var(--warn); }
.counts { margin: 8px 0 0; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.run dt { font-weight: 600; } dl.run dd { margin: 0; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px;
  font-weight: 600; }
.badge.passed { background: var(--ok-bg); color: var(--ok); }
.badge.failed, .badge.failure { background: var(--fail-bg); color: var(--fail); }
.badge.warning { background: var(--warn-bg); color: var(--warn); }
.badge.skipped { background: var(--skip-bg); color: var(--skip); }
table.grid td.cell { text-align: center; min-width: 110px; font-variant-numeric: tabular-nums; }
table.grid td.cell a { color: inherit; font-weight: 700; }
td.cell.ok { background: var(--ok-bg); color: var(--ok); }
td.cell.fail { background: var(--fail-bg); color: var(--fail); }
td.cell.warn { background: var(--warn-bg); color: var(--warn); }
td.cell.none { background: var(--skip-bg); color: var(--skip); }
.finding { border-left: 4px solid var(--line); padding: 4px 0 4px 12px; margin: 10px 0; }
.finding.failure { border-color: var(--fail); } .finding.warning { border-color: var(--warn); }
.where { color: var(--skip); font-size: 13px; }
.label { font-weight: 600; font-size: 13px; color: var(--skip); }
.skip-reason { color: var(--skip); font-size: 13px; }
footer { margin-top: 32px; color: var(--skip); font-size: 12px; }
"""


def esc(value: object) -> str:
    """Any value as HTML text (quotes too, so it is safe in an attribute)."""
    return html.escape(str(value), quote=True)


def anchor(kind: str, name: str) -> str:
    """A stable, HTML-safe id for a check or a target."""
    return f"{kind}-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "x")


def render_html(result: RunResult) -> str:
    """The whole page."""
    code = result.exit_code()
    verdict = (_DIFF_VERDICTS if result.mode == "diff" else _VERDICTS)[code]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>soc-conformance {esc(result.mode)}: {esc(verdict)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<header>",
        f"<h1>soc-conformance {esc(result.mode)}</h1>",
        f'<p class="subject">{esc(result.subject)}</p>',
        f'<div class="verdict {_VERDICT_CLASS[code]}" id="verdict">{esc(verdict)}</div>',
        f'<p class="counts">{_counts(result)}</p>',
        "</header>",
        *_run_section(result),
        *_matrix_section(result),
        *_checks_section(result),
        *_findings_section(result),
        "<footer>Written by soc-conformance. Keys are redacted; every finding can be "
        "reproduced with its curl line and the run's seed.</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _counts(result: RunResult) -> str:
    counts = result.counts()
    shown = [f'<span class="badge {s.value}">{n} {s.value}</span>' for s, n in counts.items() if n]
    strict = " (strict)" if result.strict else ""
    return " ".join(shown) + strict if shown else "no checks ran"


def _run_section(result: RunResult) -> Iterator[str]:
    yield '<section id="run"><h2>Run</h2><dl class="run">'
    rows: list[tuple[str, str]] = [("mode", result.mode)]
    if result.seed is not None:
        rows.append(("seed", f"{result.seed} (repeat with --seed {result.seed})"))
    rows.append(("strict", "yes" if result.strict else "no"))
    if result.max_requests is not None:
        rows.append(("requests", f"{result.requests_made} of a budget of {result.max_requests}"))
    elif result.requests_made:
        rows.append(("requests", str(result.requests_made)))
    if result.seconds is not None:
        rows.append(("time", f"{result.seconds:.1f} s"))
    checked = sum(c.seconds for c in result.checks)
    rows.append(("time in checks", f"{checked:.1f} s"))
    if result.harness_error:
        rows.append(("could not test", result.harness_error))
    for name, value in rows:
        yield f"<dt>{esc(name)}</dt><dd>{esc(value)}</dd>"
    yield "</dl></section>"


def _checks_section(result: RunResult) -> Iterator[str]:
    if not result.checks:
        return
    yield '<section id="checks"><h2>Checks</h2><table class="checks">'
    yield (
        "<thead><tr><th>check</th><th>scope</th><th>status</th><th>failures</th>"
        "<th>warnings</th><th>time</th><th>skipped because</th></tr></thead><tbody>"
    )
    for c in result.checks:
        status = c.status(strict=result.strict)
        failures = sum(f.effective(strict=result.strict) is Severity.FAILURE for f in c.findings)
        name = esc(c.name)
        if c.findings:
            name = f'<a href="#{anchor("check", c.name)}">{name}</a>'
        yield (
            f'<tr class="{status.value}"><td class="mono">{name}</td><td>{esc(c.scope)}</td>'
            f'<td><span class="badge {status.value}">{status.value}</span></td>'
            f'<td class="num">{failures}</td><td class="num">{len(c.findings) - failures}</td>'
            f'<td class="num">{c.seconds:.2f} s</td>'
            f'<td class="skip-reason">{esc(c.skip_reason or "")}</td></tr>'
        )
    yield "</tbody></table></section>"


def _rows(matrix: CompileMatrix) -> list[str]:
    """The matrix's row keys, whatever they are (IOC types, logsources...)."""
    return sorted({row for row, _ in matrix.cells})


def _matrix_section(result: RunResult) -> Iterator[str]:
    matrix = result.matrix
    if matrix is None or not matrix.cells:
        return
    targets_with_findings = {
        f.target for c in result.checks for f in c.findings if f.target is not None
    }
    row_label = str(getattr(matrix, "row_label", None) or "IOC type")
    yield '<section id="matrix"><h2>Compile matrix</h2>'
    yield "<p>Rules that compiled, of the rules in that row, per target. Required targets "
    yield "fail the run; advisory ones only warn. A failing cell links to its findings.</p>"
    yield f'<table class="grid"><thead><tr><th>{esc(row_label)}</th>'
    for target in matrix.targets:
        kind = "required" if target in matrix.required else "advisory"
        yield f'<th class="mono">{esc(target)}<br><span class="label">{kind}</span></th>'
    yield "</tr></thead><tbody>"
    for row in _rows(matrix):
        yield f'<tr><th class="mono">{esc(row)}</th>'
        for target in matrix.targets:
            cell = matrix.cells.get((row, target))
            if cell is None or cell.ok + cell.failed == 0:
                yield '<td class="cell none">-</td>'
                continue
            total = cell.ok + cell.failed
            text = f"{cell.ok} / {total}"
            if not cell.failed:
                yield f'<td class="cell ok" title="all compiled">{text}</td>'
                continue
            kind = "fail" if target in matrix.required else "warn"
            title = esc(f"{cell.failed} of {total} did not compile on {target}")
            if target in targets_with_findings:
                text = f'<a href="#{anchor("target", target)}">{text}</a>'
            yield f'<td class="cell {kind}" title="{title}">{text}</td>'
        yield "</tr>"
    yield "</tbody></table></section>"


def _findings_section(result: RunResult) -> Iterator[str]:
    shown = [
        c
        for c in result.checks
        if c.findings and c.status(strict=result.strict) in (Status.FAILED, Status.WARNING)
    ]
    if not shown:
        return
    yield '<section id="findings"><h2>Findings</h2>'
    targets_anchored: set[str] = set()
    for c in shown:
        yield from _check_findings(c, result.strict, targets_anchored)
    yield "</section>"


def _check_findings(c: CheckResult, strict: bool, targets_anchored: set[str]) -> Iterator[str]:
    status = c.status(strict=strict).value
    yield f'<article class="check" id="{anchor("check", c.name)}">'
    yield (
        f'<h3><span class="mono">{esc(c.name)}</span> <span class="badge {status}">'
        f"{status}</span> <span class='where'>{len(c.findings)} finding(s)</span></h3>"
    )
    yield f"<p>{esc(c.description)}</p>"
    # Compile findings come grouped by target, so a matrix cell can link to its target.
    ordered = sorted(c.findings, key=lambda f: f.target or "") if _any_target(c) else c.findings
    for number, finding in enumerate(ordered):
        target = finding.target
        if target is not None and target not in targets_anchored:
            targets_anchored.add(target)
            yield f'<h4 id="{anchor("target", target)}" class="mono">{esc(target)}</h4>'
        if number < SHOWN_IN_FULL:
            yield from _finding_block(finding, strict)
        elif number < SHOWN_IN_FULL + LISTED:
            yield f'<p class="where">{esc(_where(finding) or "")} {esc(finding.message)}</p>'
    hidden = len(c.findings) - SHOWN_IN_FULL - LISTED
    if hidden > 0:
        yield f'<p class="where">and {hidden} more (every finding is in --json)</p>'
    yield "</article>"


def _any_target(c: CheckResult) -> bool:
    return any(f.target is not None for f in c.findings)


def _where(finding: Finding) -> str:
    repro = finding.reproduction
    where = []
    if repro.source:
        where.append(repro.source)
    if repro.document_index is not None:
        where.append(document_label(repro.document_index, repro.line))
    if finding.target:
        where.append(f"target {finding.target}")
    return ", ".join(where)


def _finding_block(finding: Finding, strict: bool) -> Iterator[str]:
    severity = finding.effective(strict=strict).value
    repro = finding.reproduction
    yield f'<div class="finding {severity}">'
    where = _where(finding)
    yield (
        f'<p><span class="badge {severity}">{severity}</span> {esc(finding.message)}'
        + (f' <span class="where">({esc(where)})</span>' if where else "")
        + ("" if finding.documented else ' <span class="where">(undocumented expectation)</span>')
        + "</p>"
    )
    both = repro.curl_b is not None
    if finding.received is not None:
        yield f'<div class="label">{"side A" if both else "received"}</div>'
        yield f"<pre>{esc(finding.received)}</pre>"
    if finding.expected is not None:
        yield f'<div class="label">{"side B" if both else "expected"}</div>'
        yield f"<pre>{esc(finding.expected)}</pre>"
    if repro.curl:
        yield f'<div class="label">reproduce{" A" if both else ""}</div>'
        yield f'<pre class="curl">{esc(repro.curl)}</pre>'
    if repro.curl_b:
        yield '<div class="label">reproduce B</div>'
        yield f'<pre class="curl">{esc(repro.curl_b)}</pre>'
    if repro.seed is not None:
        yield f'<div class="label">seed {esc(repro.seed)}</div>'
    if repro.document is not None:
        lines = repro.document.rstrip("\n").splitlines()
        text = "\n".join(lines[:DOCUMENT_LINES])
        if len(lines) > DOCUMENT_LINES:
            text += f"\n… ({len(lines) - DOCUMENT_LINES} more lines)"
        label = "document"
        if repro.document_index is not None:
            label = document_label(repro.document_index, repro.line)
        is_open = " open" if severity == Severity.FAILURE.value else ""
        yield (
            f"<details{is_open}><summary>{esc(label)}</summary>"
            f'<pre class="document">{esc(text)}</pre></details>'
        )
    yield "</div>"
