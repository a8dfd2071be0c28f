"""``soc-conformance server``: judge a live SOC Defenders-style Sigma endpoint.

Every option has an environment variable (``SOCDEFENDERS_*``); the command line wins. Exit
codes: 0 conformant, 1 failures, 2 usage error, 3 could not test. The seed is always printed.
"""

from __future__ import annotations

import os
from typing import Any

import click

from conformance.commands.conclusion import conclude, split_values
from conformance.commands.output import output_options
from conformance.redaction import Scrubber
from conformance.results import RunResult


@click.command("server")
@click.option("--base-url", metavar="URL", help="Server root [SOCDEFENDERS_BASE_URL].")
@click.option("--api-key", metavar="KEY", help="A Pro key [SOCDEFENDERS_API_KEY].")
@click.option("--free-key", metavar="KEY", help="A Free key, for the 403 check.")
@click.option("--expired-key", metavar="KEY", help="An expired key, for its 401 check.")
@click.option("--targets", multiple=True, metavar="T[,T...]", help="Compile targets.")
@click.option("--require-target", multiple=True, metavar="T", help="Make a target required.")
@click.option("--strict", is_flag=True, help="Undocumented expectations fail instead of warn.")
@click.option(
    "--probe-rate-limit", is_flag=True, help="Trip the key's rate limit once to check the 429."
)
@click.option("--check", "include", multiple=True, metavar="NAME", help="Run only these checks.")
@click.option("--exclude", multiple=True, metavar="NAME", help="Skip these checks.")
@click.option("--max-requests", type=int, help="Request budget (default 600).")
@click.option("--seed", type=int, help="Seed for Hypothesis and every random choice.")
@click.option("--max-examples", type=int, help="Hypothesis examples per check (default 12).")
@click.option("--timeout", type=float, help="Read timeout in seconds (default 30).")
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
    Environment variables: SOCDEFENDERS_BASE_URL,
    SOCDEFENDERS_API_KEY, SOCDEFENDERS_FREE_KEY, SOCDEFENDERS_EXPIRED_KEY,
    SOCDEFENDERS_TARGETS, SOCDEFENDERS_REQUIRE_TARGET, SOCDEFENDERS_STRICT, SOCDEFENDERS_CHECK,
    SOCDEFENDERS_EXCLUDE, SOCDEFENDERS_MAX_REQUESTS, SOCDEFENDERS_SEED,
    SOCDEFENDERS_MAX_EXAMPLES, SOCDEFENDERS_TIMEOUT, SOCDEFENDERS_PROBE_RATE_LIMIT.
    """
    from conformance.server.config import ServerConfig
    from conformance.server.run import check_base_url, run_server

    given = dict(options)
    given["required_targets"] = split_values(given.pop("require_target"))
    for name in ("targets", "include", "exclude"):
        given[name] = split_values(given[name])
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
