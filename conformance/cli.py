"""``soc-conformance``: judge a server, a client or a saved rules file.

Exit codes: 0 conformant, 1 failures, 2 usage error, 3 could not test.
"""

from __future__ import annotations

import click

from conformance.commands.checks import checks_command
from conformance.commands.client import client_command
from conformance.commands.diff import diff_command
from conformance.commands.rules import rules_command
from conformance.commands.server import server_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="socdefenders-mock")
def main() -> None:
    """Check that a Sigma rule feed (server, client or file) keeps the SOC Defenders contract."""


main.add_command(checks_command)
main.add_command(client_command)
main.add_command(diff_command)
main.add_command(rules_command)
main.add_command(server_command)
