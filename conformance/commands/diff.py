"""``soc-conformance diff``: the same queries to two servers, every difference named.

Exit codes: 0 equivalent, 1 they differ, 2 usage error, 3 either side cannot be tested.
"""

from __future__ import annotations

import os
from typing import Any

import click

from conformance.commands.conclusion import conclude
from conformance.commands.output import output_options
from conformance.redaction import Scrubber
from conformance.results import RunResult


@click.command("diff")
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    metavar="URL",
    help="A server root; give it twice: side A, then side B.",
)
@click.option("--api-key", metavar="KEY", help="Key for both sides [SOCDEFENDERS_API_KEY].")
@click.option("--api-key-a", metavar="KEY", help="Side A's own key [SOCDEFENDERS_API_KEY_A].")
@click.option("--api-key-b", metavar="KEY", help="Side B's own key [SOCDEFENDERS_API_KEY_B].")
@click.option("--max-requests", type=int, help="Request budget per side (default 60).")
@click.option("--seed", type=int, help="Seed of the drawn queries (printed when not given).")
@click.option("--timeout", type=float, help="Read timeout in seconds (default 30).")
@click.option(
    "--queries-from",
    type=click.Path(dir_okay=False),
    help="Send the Sigma requests of this VCR cassette (soc-mock record) instead of drawing.",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
@output_options
def diff_command(junitxml: str | None, json_path: str | None, **options: Any) -> None:
    """Send the same seeded, Hypothesis-drawn queries to two servers and name every difference:
    rules only in A or B (by id, then by IOC), the same rule with other content (field by
    field), and status, error code, media type and X-RateLimit-* semantics.

    Both sides get the same queries; --max-requests holds for each. Keys are redacted in
    every report.
    """
    from conformance.diff.config import DiffConfig
    from conformance.diff.run import run_diff

    env_keys = [os.environ.get(f"SOCDEFENDERS_API_KEY{s}") for s in ("", "_A", "_B")]
    scrubber = Scrubber.of(
        [options.get("api_key"), options.get("api_key_a"), options.get("api_key_b"), *env_keys]
    )

    def run() -> RunResult:
        config = DiffConfig.from_sources(options, os.environ)
        click.echo(f"seed: {config.seed} (repeat this run with --seed {config.seed})", err=True)
        return run_diff(config)

    conclude(run, json_path=json_path, junitxml=junitxml, scrubber=scrubber)
