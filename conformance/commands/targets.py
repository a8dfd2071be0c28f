"""``soc-conformance targets``: the compile targets a run uses, and what pySigma has installed.

A target is ``backend+pipeline``. Required targets fail a run when a rule does not compile on
them; advisory ones only show in the compile matrix unless named with ``--require-target``.
The vendor's SIEM names (``splunk``, ``elastic``, ``sentinel``, ``qradar``) are accepted by
``--targets`` as aliases of one target each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from conformance import contract
from conformance.target_aliases import alias_of


def _pipelines(plugins: Any) -> list[tuple[str, str]]:
    """Installed pipelines with the backends each allows (``all`` when unrestricted)."""
    rows = []
    for name, pipeline in sorted(plugins.get_pipeline_resolver().list_pipelines()):
        allowed = sorted(getattr(pipeline, "allowed_backends", None) or ())
        rows.append((name, ", ".join(allowed) if allowed else "all"))
    return rows


def targets_text(plugins: Any) -> str:
    """The listing: default targets (role, vendor name, installed?), then backends, pipelines."""
    backends: dict[str, Any] = dict(plugins.backends)
    pipelines = _pipelines(plugins)
    pipeline_names = {name for name, _ in pipelines}

    def state(target: str) -> str:
        backend, _, pipeline = target.partition("+")
        missing = [
            what
            for what, ok in (
                ("backend", backend in backends),
                ("pipeline", pipeline in pipeline_names),
            )
            if not ok
        ]
        return "installed" if not missing else "NOT INSTALLED (" + ", ".join(missing) + ")"

    rows = [("target (backend+pipeline)", "role", "vendor name", "state")]
    for target in contract.DEFAULT_TARGETS:
        role = "required" if target in contract.REQUIRED_TARGETS else "advisory"
        rows.append((target, role, alias_of(target) or "-", state(target)))
    lines = ["Default compile targets (--targets; --require-target makes one required):", ""]
    lines += _table(rows)
    lines += [
        "",
        "A vendor name stands for its target in --targets and --require-target"
        " (e.g. --targets elastic,sentinel).",
        "",
    ]
    lines += ["Installed pySigma backends:", ""]
    lines += _table(
        [("backend", "query language")]
        + [(name, str(getattr(cls, "name", "") or "")) for name, cls in sorted(backends.items())]
    )
    lines += ["", "Installed pySigma pipelines:", ""]
    lines += _table([("pipeline", "backends"), *pipelines])
    lines += [
        "",
        "Any installed backend+pipeline pair can be given to --targets.",
    ]
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    out.insert(1, "  " + "  ".join("-" * w for w in widths))
    return out


@click.command("targets")
def targets_command() -> None:
    """List the compile targets (required or advisory), the vendor's SIEM names they stand
    for, and the pySigma backends and pipelines installed here."""
    from conformance.rules.toolchain import installed_plugins

    click.echo(targets_text(installed_plugins()), nl=False)
