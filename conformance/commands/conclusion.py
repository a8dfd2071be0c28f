"""What every ``soc-conformance`` command does at its end: report, write the files, exit.

One place maps the harness's errors to exit codes (2 usage, 3 could not test) and passes every
printed or written text through the run's key scrubber.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from conformance.findings import ConformanceError, HarnessError, UsageError
from conformance.redaction import Scrubber
from conformance.results import RunResult


def split_values(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and/or comma-separated values, flattened, in order, without repeats."""
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip() and v.strip() not in out]
    return tuple(out)


def write_report(path: str | None, text: str) -> None:
    """Write ``text`` to ``path`` (if given); an unwritable path is a harness error."""
    if path is None:
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {path}: {exc.strerror or exc}") from exc


def conclude(
    run: Callable[[], RunResult],
    *,
    json_path: str | None,
    junitxml: str | None,
    scrubber: Scrubber,
) -> NoReturn:
    """Run, print the human report, write ``--json``/``--junitxml``/``--html``, exit with the
    verdict. Progress goes to standard error while ``run`` runs (``-q``: none)."""
    from conformance.commands.output import output_settings
    from conformance.html_report import render_html
    from conformance.progress import reporter_for, reporting
    from conformance.report import render_json, render_junit, render_text

    settings = output_settings()
    try:
        started = time.monotonic()
        with reporting(reporter_for(settings.verbosity)):
            result = run()
        if result.seconds is None:
            result.seconds = time.monotonic() - started
        click.echo(scrubber.scrub(render_text(result)), nl=False)
        write_report(json_path, scrubber.scrub(render_json(result)))
        write_report(junitxml, scrubber.scrub(render_junit(result)))
        if settings.html is not None:
            write_report(settings.html, scrubber.scrub(render_html(result)))
    except UsageError as exc:
        click.echo(f"usage error: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except ConformanceError as exc:
        click.echo(f"could not test: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(result.exit_code())
