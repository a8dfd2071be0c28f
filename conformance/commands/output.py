"""The options every ``soc-conformance`` command shares about its output: ``--html PATH``,
``-q``/``--quiet`` and ``-v``/``--verbose``.

They are kept in the click context (not passed to the command function), so adding them to
a command is one decorator line, and :func:`conformance.commands.conclusion.conclude` reads
them back with :func:`output_settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from conformance.progress import NORMAL, QUIET, VERBOSE

F = TypeVar("F", bound=Callable[..., Any])
_META = "soc_conformance.output"


@dataclass(frozen=True)
class OutputSettings:
    """What the shared output options asked for."""

    html: str | None = None
    verbosity: int = NORMAL


def output_settings() -> OutputSettings:
    """The settings of the running command (defaults outside a click command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return OutputSettings()
    settings = ctx.meta.get(_META)
    return settings if isinstance(settings, OutputSettings) else OutputSettings()


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        settings = ctx.meta.get(_META, OutputSettings())
        if name == "html" and value is not None:
            settings = OutputSettings(html=value, verbosity=settings.verbosity)
        elif name == "quiet" and value:
            settings = OutputSettings(html=settings.html, verbosity=QUIET)
        elif name == "verbose" and value and settings.verbosity != QUIET:
            settings = OutputSettings(html=settings.html, verbosity=VERBOSE)
        ctx.meta[_META] = settings

    return callback


def output_options(command: F) -> F:
    """Add ``--html``, ``-q`` and ``-v`` to a command (values land in the click context)."""
    options = [
        click.option(
            "--html",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_store("html"),
            help="Write a self-contained HTML report here.",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_store("quiet"),
            help="No progress on standard error (the report still prints).",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            expose_value=False,
            callback=_store("verbose"),
            help="More progress detail on standard error (each request, each step).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
