"""``soc-conformance``: judge a server, a client or a saved rules file.

Exit codes: 0 conformant, 1 failures, 2 usage error, 3 could not test.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import click

from conformance.commands.checks import checks_command
from conformance.commands.client import client_command
from conformance.commands.diff import diff_command
from conformance.commands.rules import rules_command
from conformance.commands.server import server_command
from conformance.commands.targets import targets_command

#: What the ``[conformance]`` extra brings that the commands import (module: distribution).
CONFORMANCE_EXTRA_MODULES = {
    "sigma": "pysigma",
    "hypothesis": "hypothesis",
    "requests": "requests",
}


def missing_extra_modules() -> list[str]:
    """The ``[conformance]`` extra's modules that cannot be found, in a stable order."""
    missing = []
    for module in CONFORMANCE_EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def hypothesis_storage_directory() -> Path:
    """Where Hypothesis keeps its files during a run: the user's cache, never the current
    directory (Hypothesis' default is ``./.hypothesis``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "soc-conformance" / "hypothesis"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="socdefenders-mock")
def main() -> None:
    """Check that a Sigma rule feed (server, client or file) keeps the SOC Defenders contract.

    Shell completion (click's): eval "$(_SOC_CONFORMANCE_COMPLETE=bash_source soc-conformance)"
    """
    missing = missing_extra_modules()
    if missing:
        names = ", ".join(CONFORMANCE_EXTRA_MODULES[m] for m in missing)
        click.echo(
            f"soc-conformance needs the [conformance] extra ({names} missing):"
            " pip install 'socdefenders-mock[conformance]' (from a checkout: pip install"
            " '.[conformance]')",
            err=True,
        )
        raise SystemExit(2)
    # Hypothesis writes ./.hypothesis/ wherever it runs unless told otherwise; a variable set
    # by the user wins. Only for this command: a caller's process (CliRunner) gets it back.
    if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(hypothesis_storage_directory())
        click.get_current_context().call_on_close(
            lambda: os.environ.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
        )


main.add_command(checks_command)
main.add_command(client_command)
main.add_command(diff_command)
main.add_command(rules_command)
main.add_command(server_command)
main.add_command(targets_command)
