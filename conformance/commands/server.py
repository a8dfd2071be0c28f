"""``soc-conformance server``: judge a live SOC Defenders-style Sigma endpoint.

Every option has an environment variable (``SOCDEFENDERS_*``); the command line wins. Exit
codes: 0 conformant, 1 failures, 2 usage error, 3 could not test. The seed is always printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from conformance.findings import ConformanceError, HarnessError, UsageError
from conformance.redaction import Scrubber


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and/or comma-separated values, flattened, in order, without repeats."""
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in value.split(",") if v.strip() and v.strip() not in out]
    return tuple(out)


def _write(path: str | None, text: str) -> None:
    if path is None:
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write {path}: {exc.strerror or exc}") from exc


@click.command("server")
@click.option("--base-url", metavar="URL", help="Server root [SOCDEFENDERS_BASE_URL].")
@click.option("--api-key", metavar="KEY", help="A Pro key [SOCDEFENDERS_API_KEY].")
@click.option("--free-key", metavar="KEY", help="A Free key, for the 403 check.")
@click.option("--expired-key", metavar="KEY", help="An expired key, for its 401 check.")
@click.option("--targets", multiple=True, metavar="T[,T...]", help="Compile targets.")
@click.option("--require-target", multiple=True, metavar="T", help="Make a target required.")
@click.option("--strict", is_flag=True, help="Undocumented expectations fail instead of warn.")
@click.option("--check", "include", multiple=True, metavar="NAME", help="Run only these checks.")
@click.option("--exclude", multiple=True, metavar="NAME", help="Skip these checks.")
@click.option("--max-requests", type=int, help="Request budget (default 600).")
@click.option("--seed", type=int, help="Seed for Hypothesis and every random choice.")
@click.option("--max-examples", type=int, help="Hypothesis examples per check (default 12).")
@click.option("--timeout", type=float, help="Read timeout in seconds (default 30).")
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
def server_command(junitxml: str | None, json_path: str | None, **options: Any) -> None:
    """Check a live Sigma endpoint (the mock, the real service, a reimplementation).

    Polite to a paid API: a request budget, waits for X-RateLimit-Reset instead of tripping a
    429, never counts a 429 against the server. Environment variables: SOCDEFENDERS_BASE_URL,
    SOCDEFENDERS_API_KEY, SOCDEFENDERS_FREE_KEY, SOCDEFENDERS_EXPIRED_KEY,
    SOCDEFENDERS_TARGETS, SOCDEFENDERS_REQUIRE_TARGET, SOCDEFENDERS_STRICT, SOCDEFENDERS_CHECK,
    SOCDEFENDERS_EXCLUDE, SOCDEFENDERS_MAX_REQUESTS, SOCDEFENDERS_SEED,
    SOCDEFENDERS_MAX_EXAMPLES, SOCDEFENDERS_TIMEOUT.
    """
    from conformance.report import render_json, render_junit, render_text
    from conformance.server import ServerConfig, run_server

    given = dict(options)
    given["required_targets"] = _split(given.pop("require_target"))
    for name in ("targets", "include", "exclude"):
        given[name] = _split(given[name])
    scrubber = Scrubber.of([given.get("api_key"), given.get("free_key"), given.get("expired_key")])
    try:
        config = ServerConfig.from_sources(given, os.environ)
        scrubber = config.scrubber()
        click.echo(f"seed: {config.seed} (repeat this run with --seed {config.seed})", err=True)
        result = run_server(config)
        click.echo(scrubber.scrub(render_text(result)), nl=False)
        _write(json_path, scrubber.scrub(render_json(result)))
        _write(junitxml, scrubber.scrub(render_junit(result)))
    except UsageError as exc:
        click.echo(f"usage error: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except ConformanceError as exc:
        click.echo(f"could not test: {scrubber.scrub(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(result.exit_code())
