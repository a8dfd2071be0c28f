"""What every ``soc-conformance`` command does at its end: report, write the files, exit.

One place maps the harness's errors to exit codes (2 usage, 3 could not test, 130
interrupted) and passes every printed or written text through the run's key scrubber.

- A run that could judge nothing (no check ran, e.g. server mode's probe found the key
  refused) prints one line on standard error; the report files are still written.
- Output paths (``--json``, ``--junitxml``) are checked before the run spends anything: a
  directory that does not exist is a usage error (exit 2), not a finding after the run.
- ``--json -`` writes the JSON to standard output; the human report then goes to standard
  error, so a pipe gets exactly one JSON document.
- SIGINT (Ctrl-C) and SIGTERM stop the run politely: each mode hands back what it judged so
  far, marked "interrupted"; it is printed and written like any report and the exit code is
  130. A second signal while the report is written is ignored; one before anything could be
  judged exits 130 with one line and no files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from conformance.findings import ConformanceError, HarnessError, UsageError
from conformance.redaction import Scrubber
from conformance.results import INTERRUPTED_EXIT, RunResult

#: The path that means standard output.
STDOUT = "-"


def split_values(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and/or comma-separated values, flattened, in order, without repeats."""
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip() and v.strip() not in out]
    return tuple(out)


def check_output_paths(**paths: str | None) -> None:
    """UsageError (exit 2) for an output path no run could write, before the run starts.

    Keys are option names (``json``, ``junitxml``, ...); ``-`` (standard output) may be
    given to one of them only.
    """
    dashes = [name for name, path in paths.items() if path == STDOUT]
    if len(dashes) > 1:
        options = " and ".join(f"--{n.replace('_', '-')} -" for n in dashes)
        raise UsageError(f"{options}: only one report can go to standard output")
    for name, path in paths.items():
        if path is None or path == STDOUT:
            continue
        option = f"--{name.replace('_', '-')} {path}"
        target = Path(path)
        parent = target.parent if str(target.parent) else Path(".")
        if not path.strip():
            raise UsageError(f"--{name.replace('_', '-')}: empty path")
        if target.is_dir():
            raise UsageError(f"{option}: is a directory, not a file")
        if not parent.is_dir():
            raise UsageError(f"{option}: the directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK) or (
            target.exists() and not os.access(target, os.W_OK)
        ):
            raise UsageError(f"{option}: not writable")


def write_report(path: str | None, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces, one at a time: a big report is never held whole) to
    ``path`` (if given; ``-`` is stdout); unwritable is a harness error."""
    if path is None:
        return
    pieces = [text] if isinstance(text, str) else text
    if path == STDOUT:
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    try:
        with Path(path).open("w", encoding="utf-8") as handle:
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        raise HarnessError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt like SIGINT does, for the block (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """No second signal cuts the report being written in half."""
    try:
        saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


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
    from conformance.report import json_pieces, junit_pieces, render_text

    settings = output_settings()
    try:
        check_output_paths(json=json_path, junitxml=junitxml, html=settings.html)
        started = time.monotonic()
        try:
            with interruptible(), reporting(reporter_for(settings.verbosity)):
                result = run()
        except KeyboardInterrupt:
            click.echo("interrupted before anything was judged: no report", err=True)
            sys.exit(INTERRUPTED_EXIT)
        if result.seconds is None:
            result.seconds = time.monotonic() - started
        with _signals_ignored():
            human_to_stderr = STDOUT in (json_path, junitxml, settings.html)
            if result.harness_error is not None and not result.checks:
                # Nothing could be judged (e.g. server mode's probe): one line, no table.
                click.echo(f"could not test: {scrubber.scrub(result.harness_error)}", err=True)
            else:
                click.echo(scrubber.scrub(render_text(result)), nl=False, err=human_to_stderr)
            # In pieces (a finding at most each), scrubbed one by one: no key spans two.
            write_report(json_path, map(scrubber.scrub, json_pieces(result)))
            write_report(junitxml, map(scrubber.scrub, junit_pieces(result)))
            if settings.html is not None:
                write_report(settings.html, scrubber.scrub(render_html(result)))
    except UsageError as exc:
        click.echo(f"usage error: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except ConformanceError as exc:
        click.echo(f"could not test: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(result.exit_code())
