"""``soc-conformance server``: judge a live SOC Defenders-style Sigma endpoint.

Every option has an environment variable (``SOCDEFENDERS_*``); the command line wins. Exit
codes: 0 conformant, 1 failures, 2 usage error, 3 could not test. The seed is always printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from conformance.commands.conclusion import conclude, split_values
from conformance.commands.output import output_options
from conformance.redaction import Scrubber
from conformance.results import RunResult
from conformance.server.config import OPTIONS, Option

F = TypeVar("F", bound=Callable[..., Any])


def _click_option(option: Option) -> Callable[[F], F]:
    """The ``soc-conformance server`` form of a server option."""
    text = f"{option.help} [{option.variable}]"
    if option.kind is bool:
        return click.option(option.flag, option.name, is_flag=True, help=text)
    if option.kind is list:
        return click.option(
            option.flag, option.name, multiple=True, metavar=option.metavar, help=text
        )
    return click.option(
        option.flag, option.name, type=option.kind, metavar=option.metavar, help=text
    )


def server_options(command: F) -> F:
    """Add every server option (``conformance.server.config.OPTIONS``) to ``command``."""
    for option in reversed(OPTIONS):
        command = _click_option(option)(command)
    return command


@click.command("server")
@server_options
@click.option(
    "--min-rules",
    type=click.IntRange(min=0),
    metavar="N",
    help="Fail (exit 1) when fewer than N rules were judged (default: an empty answer passes).",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here (- for stdout)."
)
@output_options
def server_command(
    junitxml: str | None, json_path: str | None, min_rules: int | None, **options: Any
) -> None:
    """Check a live Sigma endpoint (the mock, the real service, a reimplementation).

    Polite to a paid API: a request budget, waits for X-RateLimit-Reset instead of tripping a
    429, never counts a 429 against the server. One request first (the Pro key, limit=1)
    makes sure the run can judge anything: a refused key or a URL where no API answers
    exits 3 at once. With --json - the JSON goes to stdout and this report to stderr.
    Every option also reads its environment variable, shown in brackets.
    """
    from conformance.server.config import ServerConfig
    from conformance.server.run import check_base_url, run_server

    given = dict(options)
    for option in OPTIONS:
        if option.kind is list:
            given[option.name] = split_values(given[option.name])
    # Keys may come from the command line or the environment: scrub both from the start, so
    # even a configuration error never prints one.
    env_keys = [os.environ.get(f"SOCDEFENDERS_{k}") for k in ("API_KEY", "FREE_KEY", "EXPIRED_KEY")]
    scrubber = Scrubber.of(
        [given.get("api_key"), given.get("free_key"), given.get("expired_key"), *env_keys]
    )

    def run() -> RunResult:
        config = ServerConfig.from_sources(given, os.environ)

        def started() -> None:
            seed = config.seed
            click.echo(f"seed: {seed} (repeat this run with --seed {seed})", err=True)

        check_base_url(config.base_url)  # a usage error (exit 2) before any request
        result = run_server(config, min_rules=min_rules, started=started)
        if result.matrix is not None:
            result.matrix.aliases.update(config.target_aliases)
        return result

    conclude(run, json_path=json_path, junitxml=junitxml, scrubber=scrubber)
