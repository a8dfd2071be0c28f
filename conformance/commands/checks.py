"""``soc-conformance checks``: every check, its scope, the documented statement it enforces
and the severity of its findings by default and with ``--strict``.

``--markdown`` prints the same table as the README publishes it (a test keeps them equal).
"""

from __future__ import annotations

import importlib

import click

from conformance.checks import CLIENT_CHECK_MODULES, SERVER_CHECK_MODULES
from conformance.registry import REGISTRY, CheckSpec

#: Every module that registers checks (rules, server and client modes).
CHECK_MODULES = ("conformance.checks", *SERVER_CHECK_MODULES, *CLIENT_CHECK_MODULES)
#: Where each scope's checks run.
SCOPE_MODES = {
    "document": "rules, server",
    "collection": "rules, server",
    "compile": "rules, server",
    "server": "server",
    "client": "client",
}
HEADER = ("check", "scope", "by default", "with --strict", "statement")


def all_checks() -> list[CheckSpec]:
    """Every registered check (importing the check modules), in a fixed order: by scope, then
    by module and place in its source. Registration order depends on what the process happened
    to import first, so it cannot be the order of a published table."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    scopes = list(SCOPE_MODES)
    modules = {
        name: rank for rank, name in enumerate(sorted({c.func.__module__ for c in REGISTRY.all()}))
    }

    def place(spec: CheckSpec) -> tuple[int, int, int]:
        line = getattr(getattr(spec.func, "__code__", None), "co_firstlineno", 0)
        return scopes.index(spec.scope), modules[spec.func.__module__], line

    return sorted(REGISTRY.all(), key=place)


def rows(scope: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """One row per check: name, scope, severity by default, with --strict, statement."""
    return [
        (c.name, c.scope, c.statement.default, c.statement.strict, c.statement.text)
        for c in all_checks()
        if scope is None or c.scope == scope
    ]


def markdown_table() -> str:
    """The table as the README shows it (statement first: it is what a reader looks for)."""
    lines = [
        "| statement | check | scope | by default | with `--strict` |",
        "|---|---|---|---|---|",
    ]
    for name, scope, default, strict, text in rows():
        cells = (text, f"`{name}`", scope, default, strict)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


@click.command("checks")
@click.option(
    "--scope",
    type=click.Choice(sorted(SCOPE_MODES)),
    help="Only the checks of one scope.",
)
@click.option("--markdown", is_flag=True, help="Print the README's Markdown table instead.")
def checks_command(scope: str | None, markdown: bool) -> None:
    """List every check: scope, severity by default and with --strict, the statement it enforces.

    Select checks in a run with --check NAME / --exclude NAME. Scopes: document, collection
    and compile checks run in rules and server modes, server checks in server mode, client
    checks in client mode. --strict adds the mock's own choices where the vendor's pages are
    silent (a 400 for a bad value, the JSON media type of errors).
    """
    if markdown:
        click.echo(markdown_table(), nl=False)
        return
    for name, check_scope, default, strict, text in rows(scope):
        click.echo(f"{name}  [{check_scope}; {SCOPE_MODES[check_scope]} mode]")
        click.echo(f"    statement:     {text}")
        click.echo(f"    by default:    {default}")
        click.echo(f"    with --strict: {strict}")
