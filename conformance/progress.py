"""What a long run is doing, on standard error, while it runs.

The mode runners never print: they tell the *current* reporter what happened, through
:func:`current`, and the command chooses the reporter once, with :func:`reporter_for`:

- :class:`RichProgress` on a terminal: live bars (checks done of all, requests spent of the
  budget, rules compiled per target), colour unless ``NO_COLOR`` is set (rich reads it);
- :class:`PlainProgress` when standard error is not a terminal (CI logs, ``2> file``): plain
  lines, a bounded number of them, no escape codes;
- :class:`NullProgress` with ``-q``, and whenever no command set a reporter (library use,
  tests, the pytest plugin): runners call it without asking whether anyone listens.

A task is a named counter (``begin`` then ``advance``); a key with a colon
(``compile:splunk+sysmon``) is a sub-counter, which a plain log shows at its end only.
``note`` is a line worth seeing at
normal verbosity ("waiting 58 s for X-RateLimit-Reset"), ``detail`` one only ``-v`` shows.
Nothing here sees a key unredacted: callers pass what they would put in a report.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, Protocol

#: -q, normal, -v.
QUIET, NORMAL, VERBOSE = 0, 1, 2


class Progress(Protocol):
    """What a runner may tell about a run in progress."""

    def begin(self, key: str, label: str, total: int | None = None, *, every: int = 0) -> None:
        """Start (or restart) the counter ``key``: ``total`` steps expected, if known.

        ``every``: a plain log gets a line every that many steps (0: only inside other lines,
        as context, and when the task ends).
        """

    def advance(self, key: str, steps: int = 1, *, item: str | None = None) -> None:
        """``steps`` more steps of ``key`` are done; ``item`` names the last one."""

    def end(self, key: str, summary: str | None = None) -> None:
        """The task ``key`` is over (a plain log says so, with ``summary``)."""

    def note(self, message: str) -> None:
        """A line worth seeing at normal verbosity."""

    def detail(self, message: str) -> None:
        """A line only ``-v`` shows."""

    def close(self) -> None:
        """Stop drawing (the report comes next)."""


class NullProgress:
    """Hears everything, says nothing (``-q``, and runs no command set up)."""

    def begin(self, key: str, label: str, total: int | None = None, *, every: int = 0) -> None:
        """Nothing."""

    def advance(self, key: str, steps: int = 1, *, item: str | None = None) -> None:
        """Nothing."""

    def end(self, key: str, summary: str | None = None) -> None:
        """Nothing."""

    def note(self, message: str) -> None:
        """Nothing."""

    def detail(self, message: str) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


@dataclass
class _Task:
    label: str
    total: int | None
    every: int
    done: int = 0
    item: str | None = None
    ended: bool = False

    def count(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else str(self.done)


class PlainProgress:
    """Plain lines for a log: ``[label n/N] item (other counters)``; no colour, no redraws.

    Lines come at the steps a task asked for (``every``) and at its end, so a long run logs
    a bounded number of lines; ``-v`` adds every step of every task and the details.
    """

    def __init__(self, stream: IO[str] | None = None, *, verbosity: int = NORMAL) -> None:
        self._stream = stream
        self._verbosity = verbosity
        self._tasks: dict[str, _Task] = {}
        self._started = time.monotonic()

    def _write(self, line: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def _context(self, key: str) -> str:
        """The other running counters, e.g. ``requests 57/600``."""
        others = [
            f"{t.label} {t.count()}"
            for k, t in self._tasks.items()
            if k != key and ":" not in k and not t.ended and t.done
        ]
        elapsed = f"{time.monotonic() - self._started:.0f} s"
        return f" ({', '.join([*others, elapsed])})"

    def begin(self, key: str, label: str, total: int | None = None, *, every: int = 0) -> None:
        """Start a counter (silently: its first lines say enough)."""
        self._tasks[key] = _Task(label, total, every)

    def advance(self, key: str, steps: int = 1, *, item: str | None = None) -> None:
        """Count; print when the task's ``every`` (or ``-v``) says so."""
        task = self._tasks.get(key)
        if task is None:
            return
        before = task.done
        task.done += steps
        task.item = item or task.item
        due = task.every and task.done // task.every > before // task.every
        if due or self._verbosity >= VERBOSE:
            shown = f" {item}" if item else ""
            self._write(f"[{task.label} {task.count()}]{shown}{self._context(key)}")

    def end(self, key: str, summary: str | None = None) -> None:
        """One line for the finished task (unless its own lines said it all)."""
        task = self._tasks.get(key)
        if task is None or task.ended:
            return
        task.ended = True
        if summary or not task.every:  # a task with lines of its own said its last step
            self._write(f"[{task.label} {task.count()}] done" + (f": {summary}" if summary else ""))

    def note(self, message: str) -> None:
        """Printed as is."""
        self._write(message)

    def detail(self, message: str) -> None:
        """Printed with ``-v`` only."""
        if self._verbosity >= VERBOSE:
            self._write(message)

    def close(self) -> None:
        """Nothing to undraw."""


class RichProgress:
    """Live bars on a terminal (rich): one per task, notes printed above them."""

    def __init__(self, *, verbosity: int = NORMAL, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bars

        # rich leaves colour out when NO_COLOR is set, and escape codes when not a terminal.
        self.console = console if console is not None else Console(stderr=True, highlight=False)
        self._verbosity = verbosity
        self._bars = Bars(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[item]}", style="dim"),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=True,
        )
        self._ids: dict[str, Any] = {}
        self._labels: dict[str, str] = {}
        self._started = False

    def _ensure_started(self) -> None:
        if not self._started:
            self._bars.start()
            self._started = True

    def begin(self, key: str, label: str, total: int | None = None, *, every: int = 0) -> None:
        """A bar (indeterminate when ``total`` is None)."""
        self._ensure_started()
        self._labels[key] = label
        if key in self._ids:
            self._bars.reset(self._ids[key], total=total, description=label, item="")
        else:
            self._ids[key] = self._bars.add_task(label, total=total, item="")

    def advance(self, key: str, steps: int = 1, *, item: str | None = None) -> None:
        """Move the bar; show the item's name beside it."""
        task = self._ids.get(key)
        if task is None:
            return
        if item is None:
            self._bars.update(task, advance=steps)
        else:
            self._bars.update(task, advance=steps, item=item)

    def end(self, key: str, summary: str | None = None) -> None:
        """Drop the bar; with ``-v`` print its summary."""
        task = self._ids.pop(key, None)
        if task is None:
            return
        label = self._labels.pop(key, key)
        self._bars.remove_task(task)
        if summary and self._verbosity >= VERBOSE:
            self.console.print(f"{label}: {summary}", markup=False, highlight=False)

    def note(self, message: str) -> None:
        """Printed above the bars, in colour where the console has it."""
        self.console.print(message, style="yellow", markup=False, highlight=False)

    def detail(self, message: str) -> None:
        """Printed with ``-v`` only, dimmed."""
        if self._verbosity >= VERBOSE:
            self.console.print(message, style="dim", markup=False, highlight=False)

    def close(self) -> None:
        """Stop the live display (it is transient: the report follows a clean screen)."""
        if self._started:
            self._bars.stop()
            self._started = False


_NULL = NullProgress()
_current: ContextVar[Progress | None] = ContextVar("conformance_progress", default=None)


def current() -> Progress:
    """The reporter of the run going on (a silent one when no command set one)."""
    return _current.get() or _NULL


@contextlib.contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the current reporter for the ``with`` block, then close it."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)
        progress.close()


def reporter_for(
    verbosity: int, stream: IO[str] | None = None, environ: dict[str, str] | None = None
) -> Progress:
    """The reporter a command uses: none with ``-q``, bars on a terminal, else plain lines.

    ``TERM=dumb`` gets plain lines too: bars need cursor movement.
    """
    if verbosity <= QUIET:
        return NullProgress()
    stream = stream if stream is not None else sys.stderr
    env = os.environ if environ is None else environ
    interactive = bool(getattr(stream, "isatty", lambda: False)()) and env.get("TERM") != "dumb"
    if interactive:
        return RichProgress(verbosity=verbosity)
    return PlainProgress(stream, verbosity=verbosity)
