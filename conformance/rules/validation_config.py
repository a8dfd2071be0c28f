"""``--validation-config FILE``: pySigma's validator configuration, the way SigmaHQ writes it.

The format is pySigma's ``SigmaValidator.from_dict`` (and sigma-cli's ``--validation-config``)::

    validators:            # optional: which validators run ("all", a name, "-name" removes)
      - all
      - -sigmahq_description_length
    exclusions:            # accepted exceptions: rule id -> validator name(s)
      5f1c.....-....: sigmahq_title_case
      0c3e.....-....: [escaped_wildcard, sigmahq_field_duplicate_value]
    config:                # keyword arguments of a validator's constructor
      sigmahq_description_length:
        min_length: 8

Validators that need downloaded data stay out whatever ``validators:`` says (the run is
offline); the ATT&CK ones come back with ``--attack-data``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.findings import UsageError


@dataclass(frozen=True)
class ValidationConfig:
    """A validator selection, per-rule exclusions and validator parameters."""

    #: pySigma's ``validators:`` list as written (``all``, ``name``, ``-name``); empty keeps
    #: the profile's own selection.
    selection: tuple[str, ...] = ()
    #: Rule id (lower-case) → the validators whose issues on that rule are accepted.
    exclusions: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Validator name → keyword arguments for its constructor.
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def select(self, default: Collection[str], installed: Collection[str]) -> tuple[str, ...]:
        """The validators to run: ``default`` unless ``validators:`` says otherwise."""
        if not self.selection:
            return tuple(sorted(default))
        chosen: set[str] = set()
        for item in self.selection:
            if item == "all":
                chosen = set(installed)
            elif item.startswith("-"):
                chosen.discard(item[1:])
            else:
                chosen.add(item)
        return tuple(sorted(chosen))

    def excluded(self, rule_id: object) -> frozenset[str]:
        """The validators excluded for that rule id (none for a rule without one)."""
        if rule_id is None:
            return frozenset()
        return self.exclusions.get(str(rule_id).lower(), frozenset())

    def frozen_params(self) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
        """``params`` in a hashable form (the toolchain's configuration is cached by value)."""
        return tuple(sorted((n, tuple(sorted(p.items()))) for n, p in self.params.items()))


def load_validation_config(path: str, installed: Collection[str]) -> ValidationConfig:
    """Read and check a validation configuration file; any mistake is a usage error naming it."""
    where = f"--validation-config {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{where}: cannot read it: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping with validators/exclusions/config")
    unknown_keys = sorted(set(map(str, data)) - {"validators", "exclusions", "config"})
    if unknown_keys:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown_keys)}")

    def known(name: object, context: str) -> str:
        text = str(name)
        if text not in installed:
            raise UsageError(f"{where}: unknown validator {text!r} in {context}")
        return text

    selection = data.get("validators") or []
    if not isinstance(selection, list):
        raise UsageError(f"{where}: validators must be a list")
    for item in selection:
        if str(item) != "all":
            known(str(item).removeprefix("-"), "validators")
    exclusions: dict[str, frozenset[str]] = {}
    raw_exclusions = data.get("exclusions") or {}
    if not isinstance(raw_exclusions, dict):
        raise UsageError(f"{where}: exclusions must map rule ids to validator names")
    for rule_id, names in raw_exclusions.items():
        try:
            key = str(uuid.UUID(str(rule_id)))
        except ValueError:
            raise UsageError(f"{where}: exclusion key {rule_id!r} is not a rule id") from None
        listed = names if isinstance(names, list) else [names]
        exclusions[key] = frozenset(known(n, f"exclusions of {key}") for n in listed)
    params: dict[str, dict[str, Any]] = {}
    raw_config = data.get("config") or {}
    if not isinstance(raw_config, dict):
        raise UsageError(f"{where}: config must map validator names to settings")
    for name, settings in raw_config.items():
        if not isinstance(settings, dict):
            raise UsageError(f"{where}: config of {name!r} is not a mapping")
        params[known(name, "config")] = {str(k): v for k, v in settings.items()}
    return ValidationConfig(tuple(str(s) for s in selection), exclusions, params)
