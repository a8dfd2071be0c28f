"""The vendor's SIEM names as ``--targets`` aliases.

The vendor's page says to compile with ``-t splunk``, ``-t elastic``, ``-t sentinel`` or
``-t qradar``. Current pySigma needs a backend *and* a pipeline, and only ``splunk`` is a
backend's name. Each vendor name therefore stands for one named ``backend+pipeline`` pair (the
same pairs as the default targets, see docs/siem-compile.md), and reports show which pair it
resolved to.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

from conformance.findings import UsageError

#: Vendor SIEM name -> the ``backend+pipeline`` target it compiles with.
VENDOR_ALIASES: Final = MappingProxyType(
    {
        "splunk": "splunk+sysmon",
        "elastic": "lucene+ecs_windows",
        "sentinel": "kusto+sentinel_asim",
        "qradar": "qradar-aql-community+qradar-aql-fields",
    }
)


def resolve_targets(specs: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Replace vendor names by their targets, keeping order and dropping repeats.

    Returns the targets and, for the report, ``{target: vendor name}`` for each alias used.
    A ``backend+pipeline`` pair is passed on unchanged (whether it is installed is checked
    later); anything else is a usage error.
    """
    targets: list[str] = []
    used: dict[str, str] = {}
    for spec in specs:
        name = spec.strip()
        target = VENDOR_ALIASES.get(name.lower(), name)
        if "+" not in target:
            raise UsageError(
                f"target {name!r} is neither backend+pipeline nor one of the vendor's names"
                f" ({', '.join(VENDOR_ALIASES)}); soc-conformance targets lists them"
            )
        if target != name:
            used.setdefault(target, name.lower())
        if target not in targets:
            targets.append(target)
    return tuple(targets), used


def alias_of(target: str) -> str | None:
    """The vendor name that stands for ``target``, if any."""
    return next((alias for alias, t in VENDOR_ALIASES.items() if t == target), None)
