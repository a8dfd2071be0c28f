"""``soc-conformance client [--scenario NAME ...] -- COMMAND ...``: judge a client.

The command runs once per scenario step against the mock on a loopback port, with
``SOCDEFENDERS_BASE_URL``, ``SOCDEFENDERS_API_KEY`` and ``SOCDEFENDERS_RULES_FILE`` in its
environment. Exit codes as in server mode: 0 conformant, 1 failures, 2 usage error, 3 could
not test. Keys never appear in the output (they are redacted everywhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from conformance.commands.conclusion import conclude, split_values
from conformance.commands.output import output_options
from conformance.redaction import Scrubber
from conformance.results import RunResult


@click.command(
    "client", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--scenario", multiple=True, metavar="NAME", help="Run only these scenarios.")
@click.option("--list-scenarios", is_flag=True, help="List the scenarios and exit.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per run.")
@click.option("--fixtures", type=click.Path(dir_okay=False), help="IOC dataset for the mock.")
@click.option("--check", "include", multiple=True, metavar="NAME", help="Run only these checks.")
@click.option("--exclude", multiple=True, metavar="NAME", help="Skip these checks.")
@click.option(
    "--file-model",
    type=click.Choice(["auto", "accumulate", "latest"]),
    default="auto",
    show_default=True,
    help="What the rules file holds: every rule served so far (accumulate), the latest run's "
    "rules (latest, the vendor's since=<last run> recipe), or inferred from the runs (auto).",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
@output_options
def client_command(
    command: tuple[str, ...],
    scenario: tuple[str, ...],
    list_scenarios: bool,
    timeout: float,
    fixtures: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    file_model: Literal["auto", "accumulate", "latest"],
    junitxml: str | None,
    json_path: str | None,
) -> None:
    """Run a client COMMAND against the mock under each scenario and judge what it did.

    Put the command after --, e.g.
    soc-conformance client -- python examples/sync_rules.py --no-check
    """
    from conformance.clientmode.run import ClientConfig, run_client
    from conformance.clientmode.scenarios import KEYS, SCENARIOS

    if list_scenarios:
        width = max(len(s.name) for s in SCENARIOS)
        for known in SCENARIOS:
            click.echo(f"{known.name.ljust(width)}  {known.summary}")
        return

    def run() -> RunResult:
        config = ClientConfig(
            command=command,
            scenarios=split_values(scenario),
            timeout=timeout,
            fixtures=Path(fixtures) if fixtures else None,
            include=split_values(include),
            exclude=split_values(exclude),
            file_model=file_model,
        )
        return run_client(config)

    conclude(run, json_path=json_path, junitxml=junitxml, scrubber=Scrubber.of(KEYS.values()))
